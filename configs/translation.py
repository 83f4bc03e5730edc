"""Translation (encoder-decoder with attention, Tx != Ty): spa_eng, Spanish -> English.

Data: our TFDS builder `spa_eng` reading spa_eng_train.txt.gz from `data.manual_dir`
(default $RNN_TF_DATA_DIR/spa_eng); validation and test are the pairs whose English side
has sha1 % 20 == 1 and == 2 (about 5% each; the steering side holds out % 20 == 0).
Model: Spanish words (lower-cased) -> GRU encoder -> Bahdanau attention -> GRU decoder
over English words (cased); beam search of width 4 for the reported metrics and the
export. chrF and BLEU by sacrebleu against the raw English sentences.

Command:
    python -m pipelines.train --config=configs/translation.py --workdir=runs/translation
Smoke run:
    python -m pipelines.train --config=configs/translation.py:tiny --workdir=/tmp/tr
Expected: chrF 60.8 / 60.5, BLEU 45.4 / 45.4 (validation / test, beam 4, [UNK] outputs
replaced by their aligned source words) in 16.0 min on 2 cores, 15 of them training
(benchmarks/results_table.py --task=translation, fourteenth working session; 7,000 steps),
against the Keras GRU(256) encoder-decoder without attention at chrF 35.1 / 35.0.
Earlier: chrF 47.4 / 47.0, BLEU 30.2 / 30.3 (validation / test, beam 4) in 18.5 min on 2
cores, 15 of them training (benchmarks/results_table.py --task=translation, ninth working
session; the first session's run gave chrF 47.5 / 47.1, BLEU 30.0 / 30.0 in ~20 min). The eleventh session's full refresh (`python
benchmarks/results_table.py`), on a machine ~3.7 times faster (6,628 steps in the 15-min
budget, 1,915 in the ninth): chrF 59.9 / 59.6, BLEU 43.2 / 43.2 in 16.0 min wall, against
the Keras GRU(256) encoder-decoder without attention at chrF 35.1 / 34.5 (its best
validation epoch; 17.9 / 17.7 in the ninth session).
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
    elif variant:
        raise ValueError(f"unknown config variant {variant!r}; use 'tiny' or none")
    return c
