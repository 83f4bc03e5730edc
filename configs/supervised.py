"""The fields every supervised task's config shares (classify, tag, seq2seq, music).
Not a task config itself: configs/sentiment.py and the others start from `base()`."""

import os

import ml_collections


def data_root():
    """Where the real data sets live: $RNN_TF_DATA_DIR, else ../shared/data."""
    return os.environ.get("RNN_TF_DATA_DIR", os.path.join("..", "shared", "data"))


# the (forward, backward) LMs that configs/char_lm_english.py exports, for model.char_lm
ENGLISH_CHAR_LMS = ("runs/char_lm_english/export/char_lm.keras",
                    "runs/char_lm_english_backward/export/char_lm.keras")


def base(name, task, dataset, manual_dir=""):
    c = ml_collections.ConfigDict()
    c.name = name
    c.task = task

    c.data = ml_collections.ConfigDict()
    c.data.dataset = dataset
    c.data.data_dir = ""                 # TFDS data_dir; '' = <workdir>/ingest/tfds
    c.data.manual_dir = manual_dir
    c.data.max_examples_per_split = 0    # 0 = all; >0 keeps the first N (tiny runs)

    c.model = ml_collections.ConfigDict()
    c.model.dtype_policy = "float32"     # or 'mixed_bfloat16': Keras's mixed precision
                                         # (docs/speed.md says where it pays)

    c.train = ml_collections.ConfigDict()
    c.train.batch_size = 32
    c.train.buckets = (10, 20, 40)       # batch examples of similar length together
    c.train.pad_to = 0                   # () buckets: pad every batch's time axis to this
                                         # length (static shapes for jit_compile); 0 = to
                                         # the longest example in the batch
    c.train.steps = 1000
    c.train.time_budget_s = 0.0          # stop training after this long (0 = no limit)
    c.train.schedule = "steps"           # learning-rate decay over train.steps, or 'budget':
                                         # by steps or the time budget, whichever is further
    c.train.learning_rate = 3e-3
    c.train.warmup_steps = 50
    c.train.clip_norm = 5.0
    c.train.max_loss = 1e4               # a loss above this (nats per unit) is divergence
    c.train.seed = 0
    c.train.strategy = "default"         # tf.distribute: default, one_device, mirrored,
                                         # multi_worker (TF_CONFIG) or tpu
    c.train.replicas = 2                 # mirrored without GPUs: logical CPU devices
    c.train.tpu = ""                     # tpu: the TPU's name or address
    c.train.jit_compile = False
    c.train.log_every = 50
    c.train.checkpoint_every = 200
    c.train.keep_checkpoints = 3
    c.train.eval_every = 200
    c.train.early_stopping_patience = 5  # evals without improvement; 0 = off
    c.train.monitor = ""                 # what selects the best weights and stops early:
                                         # '' = the task's primary metric (eval.primary);
                                         # 'loss' = the validation loss (as Keras's
                                         # ModelCheckpoint(monitor='val_loss'))
    c.train.histogram_every = 500
    c.train.sample_every = 500           # TensorBoard samples: predictions, a piano roll
    c.train.bptt_view_rows = 8           # rows of the batch the BPTT view (TensorBoard's
                                         # bptt_gradient) reads at each validation; 0 = off
    c.train.interrupt_after_steps = 0    # stop as if killed after N steps of this run
    c.train.stop_at_step = 0             # end training at this step as a time budget would
                                         # (schedule still over train.steps); 0 = off

    c.eval = ml_collections.ConfigDict()
    c.eval.bless_threshold = 0.0         # the task's primary validation metric must pass it

    c.export = ml_collections.ConfigDict()
    c.export.serving_dir = ""            # '' = <workdir>/serving
    return c


def shrink(c, steps=30):
    """The tiny variant: few examples, few steps, frequent logs."""
    c.data.max_examples_per_split = 64
    c.train.batch_size = 8
    c.train.steps = steps
    c.train.warmup_steps = 5
    c.train.log_every = 10
    c.train.checkpoint_every = 10
    c.train.eval_every = 10
    c.train.histogram_every = 10
    c.train.sample_every = 1000          # samples at the last step only
    c.train.bptt_view_rows = 0           # its second graph's tracing is half a tiny run
    c.train.time_budget_s = 0.0
    c.train.schedule = "steps"
    return c


def keras_arch(c, keras_model, **model):
    """The `keras_arch` variant: the model of the task's Keras baseline in the results
    table (`keras_model`, as benchmarks/keras_baselines.py builds it), built from rnn_tf
    and trained by this pipeline for the same budget on the same transform artifacts.
    `model` sets the fields that make the architecture the same (no lexicon, character
    encoder, attention, dropout or augmentation the baseline lacks); the rest of the
    config, training included, stays the task's. The results table's middle column."""
    c.model.update(model)
    c.model.keras_arch = keras_model
    return c
