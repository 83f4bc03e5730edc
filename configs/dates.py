"""Date normalisation (encoder-decoder, Tx != Ty): human-readable dates -> ISO YYYY-MM-DD.

Data: our TFDS builder `dates` 3.0.0, generated with faker + babel from seeds (train 60,000,
validation 2,000 and test 10,000 from their own seeds, less inputs seen in train; 20 locales,
babel's short/medium/long/full and 33 more patterns, all-numeric ones read by the rule in
pipelines/datasets/dates.py, and 18 templates of dates as people write them: ordinal days,
abbreviated months with and without a period, day-first dotted numerics; as-is / upper /
lower / title case, single, doubled, padded or tight spacing).
Model: characters (lower-cased) -> GRU encoder -> Bahdanau attention -> GRU decoder over
the ISO characters; greedy decoding. The checkpoint with the lowest validation loss is kept
(`train.monitor='loss'`): exact match saturates at 100% on validation. No pretrained
character-LM features (`model.char_lm = ()`): configs/char_lm_english.py's LMs read English
prose, not dates in 20 locales. The `char_lm` variant adds their frozen states, which the
encoder reads beside each source character (run the LMs' two commands first): the
seq2seq encoder's with/without comparison.

Command:
    python -m pipelines.train --config=configs/dates.py --workdir=runs/dates
With the pretrained character-LM states:
    python -m pipelines.train --config=configs/dates.py:char_lm --workdir=runs/dates_char_lm
Smoke run:
    python -m pipelines.train --config=configs/dates.py:tiny --workdir=/tmp/dates
Expected: validation 1.000, test 1.000 exact_match in 5.3 min on 2 cores, against the Keras
baseline(s) at the same budget: Embedding(16) + Bidirectional(LSTM(64)) encoder, LSTM(128)
decoder 0.795 / 0.808; Embedding(16) + GRU(128) encoder, GRU(128) decoder 0.881 / 0.889 (the
`dates` row of benchmarks/results.json, `python benchmarks/results_table.py --task=dates`;
a66df3f, 2026-12-07 02:24 UTC, 2-core AMD EPYC). With the frozen pretrained character-LM
states (`:char_lm`), against this recipe without them in the same run: validation 1.000
against 1.000, test 1.000 against 1.000 (`python benchmarks/results_table.py --char-lm`;
7e5f9c3, 2026-12-07 15:40 UTC, 2-core AMD EPYC).

Held-out probes of an export: `python benchmarks/dates_probe.py
runs/dates/export/saved_model` (the deeplearning.ai exercise's en_US formats), with
`--probe locales` (the builder's patterns in 14 locales it never trains on) and with
`--probe human` (exact match per written form, on forms the builder never writes; its
table, `--probe all --record`, is in the results document).
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
    c.model.char_lm = ()                 # (forward, backward) LM .keras files whose states
                                         # the encoder also reads per source token
    c.model.char_lm_trainable = False    # True fine-tunes the LMs with the model
    c.train.batch_size = 64
    c.train.buckets = (12, 16, 20, 26)
    c.train.steps = 4000
    c.train.learning_rate = 3e-3
    c.train.eval_every = 250
    c.train.checkpoint_every = 250
    c.train.early_stopping_patience = 4
    c.train.monitor = "loss"             # exact match saturates at 100% on validation;
                                         # the loss still ranks the checkpoints
    c.train.time_budget_s = 240.0
    c.eval.primary = "exact_match"
    c.eval.quick_examples = 1000
    c.eval.beam_width = 1
    c.eval.length_penalty = 0.0
    c.eval.replace_unk = False           # every date character is in the vocabulary
    c.eval.bless_threshold = 0.99        # validation exact match
    c.export.examples = ("Tuesday, 3 January 2023", "31 DÉC. 1999", "le 14 juillet 1789",
                         "12/31/99")
    if variant == "tiny":
        supervised.shrink(c)
        c.data.dataset = "dates/small"
        c.model.units = 16
        c.eval.quick_examples = 32
        c.eval.bless_threshold = 0.0
    elif variant == "keras_arch":
        supervised.keras_arch(c, "Embedding(16) + GRU(128) encoder, GRU(128) decoder",
                             attention=False, source_embedding_dim=16)
    elif variant == "char_lm":
        c.model.char_lm = supervised.ENGLISH_CHAR_LMS
    elif variant:
        raise ValueError(f"unknown config variant {variant!r}; use 'tiny', 'keras_arch', "
                         "'char_lm' or none")
    return c
