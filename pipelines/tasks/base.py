"""The Task protocol: what a task (char_lm, classify, tag, seq2seq, music) supplies to the
one pipeline, and the artifacts every task shares.

Hooks every task supplies:

    read(workdir, split)    the split's raw examples (default: TFDS examples as dicts)
    encode(examples, fit)   raw examples -> {feature: tf.RaggedTensor | np.ndarray}
                            (fit=True on the train split builds `meta` first)
    build_model()           the rnn_tf model, its variables built
    loss(model, batch, training, seed=None) -> (scalar loss, {metric: value}) for one
                            batch; training randomness (word dropout, augmentation)
                            draws from the stateless `seed` <int64>[2] = (train.seed,
                            step), so a resumed run draws what it would have
    quick_eval(model, split) -> {metric: value} used during training (early stopping)
    evaluate(model, split)  -> the stage's full metrics
    serving_module(model)   a tf.Module whose tf.functions are the serving signatures

Hooks with defaults, for what the training loop does differently per task:

    train_dataset(features)  an endless tf.data.Dataset of global batches, element k the
                             batch of optimizer step k, the same on every machine
    carried_state(model)     variables carried from one step to the next (TBPTT), or []
    train_loss(model, batch, state, seed) -> (loss, metrics, new state)
    loss_units(batch)        what the loss averages over (examples, valid tokens)
    units_of(batch)          examples (or tokens) in a batch, for the throughput line
    summaries(model, batch)  {name: image | histogram tensor} on histogram steps
    samples(model, step)     {name: text} on sample steps

Artifacts (besides each stage's manifest.json):
    transform/meta.json           vocabularies and sizes (the task's `meta`)
    transform/<split>.npz         features, ragged ones as values + row splits
    train/checkpoints, train/best.weights.h5, train/logs/{train,validation}
    evaluate/metrics.json, evaluate/blessing.json
    export/saved_model
"""

import contextlib
import os

import keras
import numpy as np
import tensorflow as tf

from pipelines import common, ingest, text
from pipelines.tasks import pretrained
from rnn_tf import diagnostics

SPLITS = ("train", "validation", "test")


# rows of a training batch the BPTT view reads when train.bptt_view_rows does not say
VIEW_ROWS = 8


class Task:
    """Base class; see the module docstring for what a task supplies."""

    primary = "accuracy"          # the metric that selects, stops early and blesses
    higher_is_better = True
    signatures = ("serving_default",)

    def __init__(self, config):
        self.config = config
        self.meta = None

    # ---------------------------------------------------------------- hooks
    def encode(self, examples, fit):
        raise NotImplementedError

    def build_model(self):
        raise NotImplementedError

    def loss(self, model, batch, training, seed=None):
        raise NotImplementedError

    def quick_eval(self, model, features):
        return self.evaluate(model, features)

    def evaluate(self, model, features):
        raise NotImplementedError

    def serving_module(self, model):
        raise NotImplementedError

    # ---------------------------------------------------------------- the loop's hooks
    throughput_unit = "examples"      # logged as <unit>_per_s

    def read(self, workdir, split):
        """The raw examples of a split (`pipelines.ingest`)."""
        return ingest.load_examples(self.config, workdir, split)

    def transform_section(self):
        """The config the transform artifact depends on (its cache key), and the files of
        the pretrained LMs that model.char_lm names (`pretrained.files_digest`: an LM
        retrained at the same path makes a new transform)."""
        return {"data": self.config.data.to_dict(), "model": self.config.model.to_dict(),
                **pretrained.files_digest(self.config.model.get("char_lm") or ())}

    def bless_threshold(self):
        """The threshold the primary validation metric must pass to be blessed."""
        return self.config.eval.bless_threshold

    def build_variables(self, model, features):
        """Creates the model's variables (before the optimizer and checkpoint see them)."""
        self.loss(model, next(iter(self.dataset(features, 2))), training=False)

    def prepare_features(self, splits):
        """{split: features} the training loop reads, from the transform's (called once,
        before the loop; its time counts against the time budget); the same by default."""
        return splits

    def train_dataset(self, features):
        """An endless tf.data.Dataset of global batches ({name: <[B, ...]>}), element k
        the batch of optimizer step k: shuffled and bucketed with seeded, deterministic
        ops, so every worker that builds it gets the same stream (`pipelines.distribute`
        splits its rows among replicas)."""
        return self.dataset(features, self.config.train.batch_size, shuffle=True,
                            repeat=True)

    def carried_state(self, model):
        """Nested lists of tf.Variables carried from one step to the next, or []."""
        return []

    def train_loss(self, model, batch, state, seed):
        """(loss, metrics, new_state) of one training step; `state` as carried_state,
        `seed` <int64>[2] the step's stateless seed."""
        loss, metrics = self.loss(model, batch, training=True, seed=seed)
        return loss, metrics, state

    def loss_units(self, batch):
        """<int32 or float>[]: what the batch's loss is a mean over (examples here; valid
        tokens for a per-token mean). Under a multi-replica strategy each replica's loss
        is weighted by its share of these, so the gradient is the one-device one."""
        return tf.shape(tf.nest.flatten(batch)[0])[0]

    def units_of(self, batch):
        """The number of examples in a batch (for the throughput line)."""
        return int(tf.shape(next(iter(batch.values())))[0])

    def summaries(self, model, batch):
        """{"image/<name>": <uint8>[1, H, W, C] | "histogram/<name>": tensor}, logged on
        histogram steps; none by default."""
        return {}

    def bptt_view(self, model, batch):
        """(total, lag) <float32>[T] each: the recurrent layer's dL/da<t> as BPTT carries
        it (`rnn_tf.diagnostics.state_gradient_norms`) on a few rows of a training batch,
        logged at every validation; or {name: (total, lag)} for a model with several
        recurrent layers (logged as `bptt_gradient/<name>`); None: no such view."""
        return None

    def probed_view(self, model, layer, loss_fn, batch, steps_key):
        """`bptt_view` for the states of `layer` (an rnn_tf.RNN, or a Bidirectional's
        forward layer), on the first `train.bptt_view_rows` rows of `batch` (8 where that
        is 0), from one tf.function per model and layer.

        Args:
          loss_fn: callable(model, batch) -> <float32>[B, T] per-step losses (0 at padded
            steps) or <float32>[B] per-example losses, in inference mode.
          steps_key: the batch's <int32>[B, T] ids whose non-zero entries are the layer's
            valid steps (pad id 0), its <bool>[B, T] mask of them, or its <int32>[B]
            lengths beside a `roll`.
        """
        rows = self.config.train.get("bptt_view_rows", 0) or VIEW_ROWS
        small = {k: v[:rows] for k, v in batch.items()}
        fns = self.__dict__.setdefault("_bptt_views", {})
        key = (id(model), id(layer))
        if key not in fns:
            rnn = diagnostics.recurrent_layer(layer)

            # traced once: batches differ in length and size
            @tf.function(input_signature=[{k: tf.TensorSpec([None] * len(v.shape), v.dtype)
                                           for k, v in small.items()}])
            def view(small):
                def per_step_loss(probe):
                    with diagnostics.probing(rnn, probe):
                        return loss_fn(model, small)
                ids = small[steps_key]
                if ids.shape.rank == 1:                     # lengths of a [B, T, P] roll
                    lengths, time = ids, tf.shape(small["roll"])[1]
                else:
                    valid = ids if ids.dtype == tf.bool else ids > 0
                    lengths, time = tf.reduce_sum(tf.cast(valid, tf.int32), 1), tf.shape(ids)[1]
                shape = (tf.shape(lengths)[0], time, rnn.units)
                return diagnostics.state_gradient_norms(per_step_loss, shape, lengths)
            fns[key] = (model, view)
        total, lag = fns[key][1](small)
        return total.numpy(), lag.numpy()

    def samples(self, model, step, features):
        """{name: str (text, shown preformatted) | <uint8>[1, H, W, C] (an image)} logged
        on sample steps, from the model and the validation split's `features`; none by
        default."""
        return {}

    def length_of(self, element):
        """<int32>[] length of one example, for bucketing batches by length."""
        first = next(iter(element.values()))
        return tf.shape(first)[0]

    def after_export(self, saved_model_dir, export_dir, model):
        """Called once the SavedModel of `model` is in place (music writes a MIDI sample;
        the LM saves itself as a `.keras` file for `rnn_tf.CharLMEmbedding`)."""

    def sample(self, saved_model):
        """A line or two that shows the exported model answering (printed at the end)."""
        return ""

    # ---------------------------------------------------------------- helpers
    def forward(self, model, *args):
        """model(*args, training=False) inside one tf.function per model (reduce_retracing:
        batches of new shapes do not each trace a new graph)."""
        cache = self.__dict__.setdefault("_forward", {})
        if id(model) not in cache:
            cache[id(model)] = (model, tf.function(
                lambda *a: model(*a, training=False), reduce_retracing=True))
        return cache[id(model)][1](*args)

    def validation_loss(self, model, features, batch_size=256):
        """<float> mean of `loss` over the split's batches, weighted by their sizes (as
        Keras's `evaluate` averages it); teacher-forced for sequence outputs."""
        fn = self.__dict__.setdefault("_loss_fn", {})
        if id(model) not in fn:
            fn[id(model)] = (model, tf.function(
                lambda b: self.loss(model, b, training=False)[0], reduce_retracing=True))
        total = count = 0.0
        for batch in self.dataset(features, batch_size):
            n = float(tf.shape(next(iter(batch.values())))[0])
            total += float(fn[id(model)][1](batch)) * n
            count += n
        return total / max(count, 1.0)

    def better(self, a, b):
        return a > b if self.higher_is_better else a < b

    def dataset(self, features, batch_size, shuffle=False, repeat=False):
        """tf.data over a split's features: dense per example, batches bucketed by length
        (padded with zeros), optionally shuffled (seeded) and repeated."""
        features = {k: v for k, v in features.items() if not k.startswith("text_")}
        ds = tf.data.Dataset.from_tensor_slices(features)
        if shuffle:
            ds = ds.shuffle(num_examples(features), seed=self.config.train.seed,
                            reshuffle_each_iteration=True)
        if repeat:
            ds = ds.repeat()
        ds = ds.map(lambda e: {k: v.to_tensor() if isinstance(v, tf.RaggedTensor) else v
                               for k, v in e.items()})
        buckets = list(self.config.train.get("buckets", ())) if shuffle else []
        if buckets:
            ds = ds.bucket_by_sequence_length(
                self.length_of, buckets, [batch_size] * (len(buckets) + 1),
                drop_remainder=False)
        elif shuffle and self.config.train.get("pad_to", 0):
            # every time axis padded to one length: static shapes, so a jit_compile'd
            # step compiles once instead of once per batch length
            n = self.config.train.pad_to
            shapes = {k: [n] + spec.shape[1:].as_list() if spec.shape.rank else []
                      for k, spec in ds.element_spec.items()}
            ds = ds.padded_batch(batch_size, padded_shapes=shapes)
        else:
            ds = ds.padded_batch(batch_size)
        return ds.prefetch(2)


# -------------------------------------------------------------------- artifacts
def save_features(path, features):
    arrays = {}
    for name, value in features.items():
        if isinstance(value, tf.RaggedTensor):
            arrays.update({f"{name}/{k}": v for k, v in text.to_numpy_ragged(value).items()})
        else:
            arrays[f"{name}/dense"] = np.asarray(value)
    tmp = path + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def load_features(workdir, split):
    with np.load(os.path.join(common.stage_dir(workdir, "transform"), f"{split}.npz")) as f:
        arrays = dict(f)
    names = sorted({k.split("/")[0] for k in arrays})
    return {n: (arrays[f"{n}/dense"] if f"{n}/dense" in arrays
                else text.from_numpy_ragged(arrays, n)) for n in names}


def load_meta(task, workdir):
    task.meta = common.read_json(os.path.join(common.stage_dir(workdir, "transform"),
                                              "meta.json"))
    return task.meta


def num_examples(features):
    v = next(iter(features.values()))
    return int(v.nrows()) if isinstance(v, tf.RaggedTensor) else len(v)


@contextlib.contextmanager
def dtype_policy(name):
    """Keras's global dtype policy set to `name` ('float32', 'mixed_bfloat16') for the
    layers built inside, and put back after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def build(task, workdir):
    """The task's model for the transform artifacts in `workdir`, its layers under
    model.dtype_policy (variables float32 in every policy, so checkpoints are alike)."""
    load_meta(task, workdir)
    with dtype_policy(task.config.model.get("dtype_policy", "float32")):
        return task.build_model()


def load_best(task, workdir):
    model = build(task, workdir)
    model.load_weights(os.path.join(common.stage_dir(workdir, "train"), "best.weights.h5"))
    return model



def monitor(task, name):
    """(metric key, sign) for `train.monitor`: sign * metric is higher when better. ''
    ranks by the task's primary metric, 'loss' by the validation loss."""
    if name not in ("", "loss"):
        raise common.UserError(f"train.monitor={name!r} is not known; use '' (the task's "
                               f"primary metric, {task.primary}) or 'loss' (the validation "
                               "loss).")
    sign = -1.0 if name == "loss" or not task.higher_is_better else 1.0
    return name or task.primary, sign


def quick_eval(task, model, features, monitor_name):
    """The task's quick validation metrics, with the validation `loss` when monitored."""
    val = dict(task.quick_eval(model, features))
    if monitor_name == "loss":
        val["loss"] = task.validation_loss(model, features)
    return val


def track_variables(module, model):
    """Tracks the backing tf.Variables of a Keras 3 model on a serving module, so TF1-style
    loaders (saved_model_cli run, TF Serving) find them (keras-team/keras#19274)."""
    module.model = model
    module.model_variables = [getattr(v, "value", v) for v in model.variables]
