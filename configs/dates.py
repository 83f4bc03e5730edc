"""Date normalisation (encoder-decoder, Tx != Ty): human-readable dates -> ISO YYYY-MM-DD.

Data: our TFDS builder `dates`, generated with faker + babel from seeds (train 60,000,
validation and test 2,000 each from their own seeds; 13 locales, babel's medium/long/full and 22 more patterns,
as-is / upper / lower case; see pipelines/datasets/dates.py).
Model: characters (lower-cased) -> GRU encoder -> Bahdanau attention -> GRU decoder over
the ISO characters; greedy decoding.

Command:
    python -m pipelines.train --config=configs/dates.py --workdir=runs/dates
Smoke run:
    python -m pipelines.train --config=configs/dates.py:tiny --workdir=/tmp/dates
Expected: 100.0% / 100.0% exact match (validation / test) in ~4 min on 2 cores (early stopping
ends training after ~3 min of the 4-min budget; benchmarks/results_table.py --task=dates,
eighth working session, where the Keras encoder-decoders at the same budget got 91.6% /
91.7% (BiLSTM(64) + LSTM(128)) and 98.5% / 97.3% (GRU(128) + GRU(128)); an earlier run
with a 5-min budget gave 99.95% / 100%). The eleventh session's full refresh (`python
benchmarks/results_table.py`, a machine ~3.7 times faster, the baselines keeping their
best validation epoch): 100.0% / 100.0% in 1.7 min wall (early stopping after 71 s of
training); there the GRU(128) + GRU(128) baseline also reached 100.0% / 100.0% (a tie)
and BiLSTM(64) + LSTM(128) 99.85% / 99.90%.
"""

from configs import supervised


def get_config(variant=None):
    c = supervised.base("dates", "seq2seq", "dates/full")
    c.model.source_tokens = "chars"
    c.model.target_tokens = "chars"
    c.model.lower_source = True
    c.model.min_count = 1
    c.model.max_vocab = 0
    c.model.max_source_len = 64
    c.model.max_target_len = 10
    c.model.cell = "gru"
    c.model.units = 128
    c.model.embedding_dim = 16
    c.model.attention = True
    c.train.batch_size = 64
    c.train.buckets = (12, 16, 20, 26)
    c.train.steps = 4000
    c.train.learning_rate = 3e-3
    c.train.eval_every = 250
    c.train.checkpoint_every = 250
    c.train.early_stopping_patience = 4
    c.train.time_budget_s = 240.0
    c.eval.primary = "exact_match"
    c.eval.quick_examples = 1000
    c.eval.beam_width = 1
    c.eval.length_penalty = 0.0
    c.eval.bless_threshold = 0.99        # validation exact match
    c.export.examples = ("Tuesday, 3 January 2023", "31 DÉC. 1999", "le 14 juillet 1789")
    if variant == "tiny":
        supervised.shrink(c)
        c.data.dataset = "dates/small"
        c.model.units = 16
        c.eval.quick_examples = 32
        c.eval.bless_threshold = 0.0
    elif variant:
        raise ValueError(f"unknown config variant {variant!r}; use 'tiny' or none")
    return c
