"""Translation (encoder-decoder with attention, Tx != Ty): spa_eng, Spanish -> English.

Data: our TFDS builder `spa_eng` reading spa_eng_train.txt.gz from `data.manual_dir`
(default $RNN_TF_DATA_DIR/spa_eng); validation and test are the pairs whose English side
has sha1 % 20 == 1 and == 2 (about 5% each; the steering side holds out % 20 == 0).
Model: Spanish words (lower-cased) -> GRU encoder -> Bahdanau attention -> GRU decoder
over English words (cased); beam search of width 4 for the reported metrics and the
export. chrF and BLEU by sacrebleu against the raw English sentences. No pretrained
character-LM features (`model.char_lm = ()`): the encoder can read them per source word,
but the LMs configs/char_lm_english.py trains read English and this source is Spanish.

Command:
    python -m pipelines.train --config=configs/translation.py --workdir=runs/translation
Smoke run:
    python -m pipelines.train --config=configs/translation.py:tiny --workdir=/tmp/tr
Expected: validation 47.1, test 46.6 chrf in 19.0 min on 2 cores, against the Keras
baseline(s) at the same budget: Embedding(128) + GRU(256) encoder, GRU(256) decoder 16.8 /
16.7 (the `translation` row of benchmarks/results.json, `python benchmarks/results_table.py
--task=translation`; 624325f, 2026-12-06 22:47 UTC, 2-core AMD EPYC).

`python benchmarks/translation_unk.py` decodes the weights of a results_table.py run with
and without unknown-word replacement (eval.replace_unk).
"""

import os

from configs import supervised


def get_config(variant=None):
    c = supervised.base("translation_spa_eng", "seq2seq", "spa_eng/full",
                        os.path.join(supervised.data_root(), "spa_eng"))
    c.model.source_tokens = "words"
    c.model.target_tokens = "words"
    c.model.lower_source = True
    c.model.min_count = 2
    c.model.max_vocab = 8000
    c.model.max_source_len = 40
    c.model.max_target_len = 30
    c.model.cell = "gru"
    c.model.units = 256
    c.model.embedding_dim = 128
    c.model.attention = True
    c.model.char_lm = ()                 # (forward, backward) LM .keras files whose states
                                         # the encoder also reads per source token
    c.model.char_lm_trainable = False    # True fine-tunes the LMs with the model
    c.train.batch_size = 64
    c.train.buckets = (6, 8, 10, 14, 20)
    c.train.steps = 20000
    c.train.learning_rate = 2e-3
    c.train.eval_every = 500
    c.train.checkpoint_every = 500
    c.train.early_stopping_patience = 4
    c.train.time_budget_s = 900.0
    c.eval.primary = "chrf"
    c.eval.quick_examples = 500
    c.eval.beam_width = 4
    c.eval.length_penalty = 1.0
    c.eval.replace_unk = True            # an [UNK] output copies its aligned source word
    c.eval.bless_threshold = 30.0        # validation chrF
    c.export.examples = ("¿Dónde está la estación de tren?", "Me gusta mucho leer libros.")
    if variant == "tiny":
        supervised.shrink(c)
        c.data.dataset = "spa_eng/small"
        c.model.units = 16
        c.model.embedding_dim = 8
        c.eval.quick_examples = 32
        c.eval.beam_width = 2
        c.eval.bless_threshold = 0.0
    elif variant == "keras_arch":
        supervised.keras_arch(c, "Embedding(128) + GRU(256) encoder, GRU(256) decoder",
                             attention=False, source_embedding_dim=128)
        c.eval.update(beam_width=1, length_penalty=0.0, replace_unk=False)   # greedy
    elif variant:
        raise ValueError(f"unknown config variant {variant!r}; use 'tiny', 'keras_arch' "
                         "or none")
    return c
