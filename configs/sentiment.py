"""Sentence classification (many-to-one): sentiment_labelled_sentences, amazon + imdb.

Data: our TFDS builder `sentiment_labelled_sentences` reading the UCI files from
`data.manual_dir` (default $RNN_TF_DATA_DIR/sentiment_labelled_sentences); 2,000
sentences, train/validation/test 80/10/10 by a fixed seed.
Model: word ids -> Embedding(64), beside each word's VADER rating (`model.lexicon`,
pipelines/lexicon.py) -> bidirectional GRU read at the last valid step -> sigmoid
P(positive). Word dropout turns training words into [UNK] but leaves their ratings. No
pretrained character-LM features (`model.char_lm = ()`); the `char_lm` variant adds the
frozen states of the LMs that configs/char_lm_english.py exports, as configs/upos.py's does.

Command:
    python -m pipelines.train --config=configs/sentiment.py --workdir=runs/sentiment
With the pretrained character-LM states:
    python -m pipelines.train --config=configs/sentiment.py:char_lm --workdir=runs/sentiment_char_lm
Smoke run:
    python -m pipelines.train --config=configs/sentiment.py:tiny --workdir=/tmp/sentiment
Expected: validation 0.875, test 0.910 accuracy in 0.7 min on 2 cores, against the Keras
baseline(s) at the same budget: Embedding(64) + Bidirectional(GRU(64)) 0.840 / 0.840; tf-idf
(1-2 grams) logistic regression 0.820 / 0.825 (the `sentiment` row of
benchmarks/results.json, `python benchmarks/results_table.py --task=sentiment`; 2dcefe4,
2026-12-06 23:40 UTC, 2-core AMD EPYC). With the frozen pretrained character-LM states
(`:char_lm`), against this recipe without them in the same run: validation 0.855 against
0.875, test 0.795 against 0.910 (`python benchmarks/results_table.py --char-lm`; 4d0bfe0,
2026-12-07 18:52 UTC, 2-core AMD EPYC).

Trained on one source and scored on the other source's sentences outside this config's
validation and test splits: `python benchmarks/sentiment_cross_domain.py --seeds 0 1 2`,
with `--set model.lexicon=vader` or `--set model.lexicon=` to compare the lexicon settings;
`--record` compares this config without and with the character-LM states and writes the
table of results. `python benchmarks/sentiment_transfer.py` scores, on the same sentences,
VADER's summed ratings alone and a linear probe of the character-LM states.
"""

import os

from configs import supervised


def get_config(variant=None):
    c = supervised.base("sentiment", "classify", "sentiment_labelled_sentences",
                        os.path.join(supervised.data_root(), "sentiment_labelled_sentences"))
    c.model.cell = "gru"
    c.model.units = 64
    c.model.num_layers = 1
    c.model.bidirectional = True
    c.model.dropout = 0.0
    c.model.word_dropout = 0.5           # a training word becomes [UNK] with this chance
    c.model.min_count = 1                # vocabulary: train words seen this often
    c.model.lexicon = "vader_negation"   # VADER ratings, negated after a negator ('vader': not; '': none)
    c.model.char_lm = ()                 # (forward, backward) LM .keras files whose states
                                         # join the word features (rnn_tf.CharLMEmbedding)
    c.model.char_lm_trainable = False    # True fine-tunes the LMs with the classifier
    c.model.char_lm_dropout = 0.5        # dropout on the LM states in training (the
                                         # char_lm variant's validation: 0.845, 0.815 at 0)
    c.train.batch_size = 32
    c.train.steps = 1500
    c.train.learning_rate = 1e-3
    c.train.eval_every = 50
    c.train.checkpoint_every = 100
    c.train.early_stopping_patience = 8
    c.train.time_budget_s = 180.0
    c.eval.bless_threshold = 0.75        # validation accuracy
    c.export.examples = ("The battery lasts all day, great value.",
                         "A dull, lifeless film; I walked out.")
    if variant == "tiny":
        supervised.shrink(c)
        c.model.units = 16
        c.eval.bless_threshold = 0.0
    elif variant == "keras_arch":
        supervised.keras_arch(c, "Embedding(64) + Bidirectional(GRU(64))", lexicon="", word_dropout=0.0,
                             embedding_dim=64)
    elif variant == "char_lm":
        c.model.char_lm = supervised.ENGLISH_CHAR_LMS
    elif variant:
        raise ValueError(f"unknown config variant {variant!r}; use 'tiny', 'keras_arch', "
                         "'char_lm' or none")
    return c
