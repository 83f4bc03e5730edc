"""The main job: a character-level language model of the Python reference documentation.

The corpus is the text of the Python language reference that every CPython installation
ships in `pydoc_data.topics` (79 topics, 465k characters; the PSF license), read through
our TFDS builder `pydoc_text` and split by topic (train/validation/test ~ 90/5/5).

Command (no flags needed; this file is the default):
    python -m pipelines.train
    python -m pipelines.train --config=configs/default.py --workdir=runs/default
Smoke run (about 20 s on 2 cores):
    python -m pipelines.train --config=configs/default.py:tiny --workdir=/tmp/tiny
Expected: Validation 1.370, test 1.376 nats/char after 3,000 steps (105 s of training, 118 s
for the whole command, from nothing). Measured by `benchmarks/main_job.py` at b4762a5,
2026-12-06T15:59:08+00:00, on AMD EPYC (2 cores, 23.5 GiB), TensorFlow 2.21.0.
(benchmarks/records/main_job.json)
"""

import ml_collections


def get_config(variant=None):
    """Returns the config; `variant='tiny'` shrinks everything for tests and smoke runs."""
    c = ml_collections.ConfigDict()
    c.name = "pydoc_char_lm"
    c.task = "char_lm"

    c.data = ml_collections.ConfigDict()
    c.data.dataset = "pydoc_text"        # any TFDS name with a 'text' feature
    c.data.data_dir = ""                 # TFDS data_dir; '' = <workdir>/ingest/tfds
    c.data.manual_dir = ""               # for offline data sets
    c.data.max_chars_per_split = 0       # 0 = all; >0 truncates each split (tiny runs)
    c.data.reverse = False               # True: every document read backwards (a backward
                                         # LM; its signatures read and write reversed text)

    c.model = ml_collections.ConfigDict()
    c.model.cell = "vanilla"
    c.model.units = 256
    c.model.num_layers = 1
    c.model.dropout = 0.0
    c.model.residual = False
    c.model.output_dropout = 0.0         # on the top RNN layer's output, before the head
    c.model.dtype_policy = "float32"     # or 'mixed_bfloat16': Keras's mixed precision
                                         # (docs/speed.md says where it pays)

    c.train = ml_collections.ConfigDict()
    c.train.batch_size = 32
    c.train.seq_len = 100                # truncated-BPTT window
    c.train.carry_state = True           # carry the state across windows (TBPTT), or
                                         # start each from zero (matches eval.window)
    c.train.windows = "consecutive"      # 'consecutive' TBPTT rows, or 'random' positions
                                         # (a fresh draw each step; needs carry_state=False)
    c.train.steps = 3000
    c.train.time_budget_s = 150.0        # stop training after this long (0 = no limit)
    c.train.schedule = "steps"           # learning-rate decay over train.steps, or 'budget':
                                         # by steps or the time budget, whichever is further
    c.train.learning_rate = 3e-3
    c.train.warmup_steps = 100
    c.train.clip_norm = 5.0
    c.train.max_loss = 1e4               # a loss above this (nats per unit) is divergence
    c.train.ema_decay = 0.0              # >0: validate, select and export the moving
                                         # average of the weights (Polyak averaging)
    c.train.seed = 0
    c.train.strategy = "default"         # tf.distribute: default, one_device, mirrored,
                                         # multi_worker (TF_CONFIG) or tpu
    c.train.replicas = 2                 # mirrored without GPUs: logical CPU devices
    c.train.tpu = ""                     # tpu: the TPU's name or address
    c.train.jit_compile = True
    c.train.log_every = 50
    c.train.checkpoint_every = 250
    c.train.keep_checkpoints = 3
    c.train.eval_every = 250
    c.train.early_stopping_patience = 4  # evals without improvement; 0 = off
    c.train.sample_every = 500
    c.train.sample_length = 200
    c.train.histogram_every = 500
    c.train.bptt_view_rows = 8           # rows of the batch the BPTT view (TensorBoard's
                                         # bptt_gradient) reads at each validation; 0 = off
    c.train.interrupt_after_steps = 0    # stop as if killed after N steps of this run
    c.train.stop_at_step = 0             # end training at this step as a time budget would
                                         # (schedule still over train.steps); 0 = off

    c.eval = ml_collections.ConfigDict()
    c.eval.window = 100                  # nats/char over non-overlapping windows, state
    c.eval.bless_max_nats = 2.5          # reset per window; bless if val <= this

    c.export = ml_collections.ConfigDict()
    c.export.serving_dir = ""            # '' = <workdir>/serving
    c.export.sample_prime = "The "

    if variant == "tiny":
        c.data.max_chars_per_split = 20000
        c.model.units = 32
        c.train.batch_size = 8
        c.train.seq_len = 20
        c.train.steps = 40
        c.train.time_budget_s = 0.0
        c.train.log_every = 10
        c.train.checkpoint_every = 10
        c.train.eval_every = 20
        c.train.sample_every = 20
        c.train.sample_length = 20
        c.train.histogram_every = 20
        c.train.bptt_view_rows = 0       # its second graph's tracing is half a tiny run
        c.train.jit_compile = False
        c.eval.bless_max_nats = 10.0
    elif variant:
        raise ValueError(f"unknown config variant {variant!r}; use 'tiny' or none")
    return c
