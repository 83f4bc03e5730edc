"""Part-of-speech tagging (many-to-many, Tx = Ty, bidirectional): UD English-EWT UPOS.

Data: our TFDS builder `ud_english_ewt` reading the CoNLL-U files from `data.manual_dir`
(default $RNN_TF_DATA_DIR/ud_english_ewt). train = the train file minus 1 sentence in 20
(by sent_id hash), which is the validation split used for early stopping; test = the
official dev file, the number we report.
Model: a character BiGRU word encoder (for the 9.7% of dev words unseen in train) and a
word embedding, into a BiLSTM, softmax over the 17 UPOS tags. No pretrained character-LM
features (`model.char_lm = ()`); the `char_lm` variant adds the frozen states of the
forward and backward LMs that configs/char_lm_english.py exports (run those two commands
first), each word's states beside its word and character features.

Command:
    python -m pipelines.train --config=configs/upos.py --workdir=runs/upos
With the pretrained character-LM states:
    python -m pipelines.train --config=configs/upos.py:char_lm --workdir=runs/upos_char_lm
Smoke run:
    python -m pipelines.train --config=configs/upos.py:tiny --workdir=/tmp/upos
Expected: validation 0.965, test 0.945 accuracy in 6.3 min on 2 cores, against the Keras
baseline(s) at the same budget: Embedding(100) + Bidirectional(LSTM(128)) 0.939 / 0.917 (the
`upos` row of benchmarks/results.json, `python benchmarks/results_table.py --task=upos`;
e72bf49, 2026-12-06 16:11 UTC, 2-core AMD EPYC). With the frozen pretrained character-LM
states (`:char_lm`), against this recipe without them in the same run: validation 0.965
against 0.963, test 0.950 against 0.947 (`python benchmarks/results_table.py --char-lm`;
97c3d97, 2026-12-07 15:52 UTC, 2-core AMD EPYC).
"""

import os

from configs import supervised
from pipelines.datasets.ud_english_ewt import UPOS


def get_config(variant=None):
    c = supervised.base("upos", "tag", "ud_english_ewt",
                        os.path.join(supervised.data_root(), "ud_english_ewt"))
    c.data.tag_names = UPOS
    c.model.cell = "lstm"
    c.model.units = 128
    c.model.num_layers = 1
    c.model.char_cell = "gru"
    c.model.char_units = 48
    c.model.word_dim = 100
    c.model.max_word_chars = 20
    c.model.dropout = 0.3
    c.model.word_dropout = 0.1
    c.model.min_count = 2                # rarer train words become [UNK]
    c.model.char_lm = ()                 # (forward, backward) LM .keras files whose states
                                         # join the word features (rnn_tf.CharLMEmbedding)
    c.model.char_lm_trainable = False    # True fine-tunes the LMs with the tagger
    c.train.batch_size = 32
    c.train.buckets = (8, 16, 24, 32, 48)
    c.train.steps = 4000
    c.train.learning_rate = 2e-3
    c.train.eval_every = 250
    c.train.checkpoint_every = 250
    c.train.early_stopping_patience = 4
    c.train.time_budget_s = 360.0
    c.train.schedule = "budget"          # the decay ends with the budget, not at step 4,000
    c.eval.bless_threshold = 0.90        # validation token accuracy
    c.export.examples = ("I saw the runaway snarfblat near Oakbridge yesterday .",
                         "Can you email me the tickets ?")
    if variant == "tiny":
        supervised.shrink(c)
        c.model.units = 16
        c.model.char_units = 8
        c.model.word_dim = 16
        c.eval.bless_threshold = 0.0
    elif variant == "keras_arch":
        supervised.keras_arch(c, "Embedding(100) + Bidirectional(LSTM(128))", char_units=0,
                             dropout=0.0, word_dropout=0.0)
    elif variant == "char_lm":
        c.model.char_lm = supervised.ENGLISH_CHAR_LMS
    elif variant:
        raise ValueError(f"unknown config variant {variant!r}; use 'tiny', 'keras_arch', "
                         "'char_lm' or none")
    return c
