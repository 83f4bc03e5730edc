"""What the supervised tasks share: their transform, train, evaluate and export stages.

A task (classify, tag, seq2seq, music) supplies the parts that differ:

    encode(examples, fit)   raw TFDS examples -> {feature: tf.RaggedTensor | np.ndarray}
                            (fit=True on the train split builds the vocabularies first)
    build_model()           the rnn_tf model
    loss(model, batch, training) -> (scalar loss, {metric: value}) for one batch
    quick_eval(model, split) -> {metric: value} used during training (early stopping)
    evaluate(model, split)  -> the stage's full metrics
    serving_module(model)   a tf.Module whose tf.functions are the serving signatures

Artifacts (besides each stage's manifest.json):
    transform/meta.json           vocabularies and sizes (the task's `meta`)
    transform/<split>.npz         features, ragged ones as values + row splits
    train/checkpoints, train/best.weights.h5, train/logs/{train,validation}
    evaluate/metrics.json, evaluate/blessing.json
    export/saved_model
"""

import math
import os
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from pipelines import blessing, common, ingest, text
from pipelines.trainer import (Diverged, Progress, _save_best, checkpoint_manager,
                               count_parameters, learning_rate, open_writers, tick_budget)

SPLITS = ("train", "validation", "test")


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

    def loss(self, model, batch, training):
        raise NotImplementedError

    def quick_eval(self, model, features):
        return self.evaluate(model, features)

    def evaluate(self, model, features):
        raise NotImplementedError

    def serving_module(self, model):
        raise NotImplementedError

    def length_of(self, element):
        """<int32>[] length of one example, for bucketing batches by length."""
        first = next(iter(element.values()))
        return tf.shape(first)[0]

    def after_export(self, saved_model_dir, export_dir):
        """Called once the SavedModel is in place (music writes a MIDI sample)."""

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
def _save_features(path, features):
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


# -------------------------------------------------------------------- stages
def transform(task, config, workdir):
    """Encodes every split (vocabularies from train only); returns the artifact dir."""
    ingest_manifest = common.read_manifest(workdir, "ingest")
    section = {"data": config.data.to_dict(), "model": config.model.to_dict()}
    inputs = common.fingerprint({"ingest": ingest_manifest["inputs_fingerprint"],
                                 "section": section})
    out = common.stage_dir(workdir, "transform")
    if common.up_to_date(workdir, "transform", inputs):
        load_meta(task, workdir)
        return out
    started = common.now_iso()
    os.makedirs(out, exist_ok=True)
    counts = {}
    for split in SPLITS:
        examples = ingest.load_examples(config, workdir, split)
        features = task.encode(examples, fit=split == "train")
        counts[split] = num_examples(features)
        _save_features(os.path.join(out, f"{split}.npz"), features)
    common.write_json_atomic(os.path.join(out, "meta.json"), task.meta)
    common.write_manifest(workdir, "transform", section, inputs, started=started,
                          vocab_hash=common.fingerprint(task.meta),
                          data_fingerprint=ingest_manifest["inputs_fingerprint"],
                          metrics={"examples": counts, **task.meta.get("stats", {})})
    return out


def build(task, workdir):
    load_meta(task, workdir)
    model = task.build_model()
    return model


def load_best(task, workdir):
    model = build(task, workdir)
    model.load_weights(os.path.join(common.stage_dir(workdir, "train"), "best.weights.h5"))
    return model


def train(task, config, workdir, resume=False, log=print):
    """GradientTape training with clipping, a schedule, checkpoints (model, optimizer,
    step, tf.data iterator), a divergence guard, early stopping and best-weights selection
    on `train.monitor` (the task's primary validation metric, or the validation loss), a
    time budget and TensorBoard logs."""
    t = config.train
    out = common.stage_dir(workdir, "train")
    tr_manifest = common.read_manifest(workdir, "transform")
    section = {"model": config.model.to_dict(), "train": t.to_dict()}
    inputs = common.fingerprint({"transform": tr_manifest["inputs_fingerprint"],
                                 "section": section})
    if not resume and common.up_to_date(workdir, "train", inputs):
        return out
    started = common.now_iso()
    keras.utils.set_random_seed(t.seed)
    model = build(task, workdir)
    features = {s: load_features(workdir, s) for s in ("train", "validation")}
    schedule = learning_rate(config)
    optimizer = keras.optimizers.Adam(schedule)
    dataset = task.dataset(features["train"], t.batch_size, shuffle=True, repeat=True)
    iterator = iter(dataset)
    first = next(iter(task.dataset(features["train"], 2)))
    task.loss(model, first, training=False)                 # builds the variables
    optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    monitored = t.get("monitor", "")
    key, sign = monitor(task, monitored)

    def score_of(val):
        return sign * val[key]
    best = tf.Variable(-math.inf, dtype=tf.float64, trainable=False, name="best_score")
    bad_evals = tf.Variable(0, dtype=tf.int64, trainable=False, name="bad_evals")
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step,
                                     iterator=iterator, best=best, bad_evals=bad_evals)
    manager = checkpoint_manager(checkpoint, out, t, resume, log, step)
    variables = model.trainable_variables

    def train_step(batch):
        with tf.GradientTape() as tape:
            loss, metrics = task.loss(model, batch, training=True)
            total = loss + (tf.add_n(model.losses) if model.losses else 0.0)
        grads = tape.gradient(total, variables)
        grads = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
                 for g, v in zip(grads, variables)]
        grads, norm = tf.clip_by_global_norm(grads, t.clip_norm)
        finite = tf.math.is_finite(loss)
        grads = [tf.where(finite, g, tf.zeros_like(g)) for g in grads]
        optimizer.apply_gradients(zip(grads, variables))
        return loss, norm, metrics

    step_fn = tf.function(train_step, jit_compile=t.jit_compile, reduce_retracing=True)
    writers = open_writers(out, config)
    progress = Progress(t.steps, unit="examples")
    start_time, start_step, run_steps = time.time(), int(step), 0
    last_log, examples = (time.time(), int(step)), 0
    stopped = "steps"
    while int(step) < t.steps:
        batch = next(iterator)
        tick_budget(schedule, start_time, t.time_budget_s)
        loss, norm, metrics = step_fn(batch)
        if not np.isfinite(float(loss)):
            raise Diverged(
                f"loss became {float(loss)} at step {int(step) + 1}; stopped. The last good "
                f"checkpoint is kept in {manager.directory}. Lower train.learning_rate or "
                "train.clip_norm and pass --resume.")
        examples += int(tf.shape(next(iter(batch.values())))[0])
        step.assign_add(1)
        run_steps += 1
        s = int(step)
        if s % t.log_every == 0 or s == t.steps:
            now = time.time()
            ex_s = examples / max(now - last_log[0], 1e-9)
            last_log, examples = (now, s), 0
            elapsed = now - start_time
            remaining = elapsed / max(s - start_step, 1) * (t.steps - s)
            if t.time_budget_s:
                remaining = min(remaining, max(t.time_budget_s - elapsed, 0))
            progress.update(s, float(loss), ex_s, remaining)
            with writers["train"].as_default(step=s):
                tf.summary.scalar("loss", loss)
                for k, v in metrics.items():
                    tf.summary.scalar(k, v)
                tf.summary.scalar("gradient_global_norm", norm)
                tf.summary.scalar("parameter_norm", tf.linalg.global_norm(variables))
                tf.summary.scalar("learning_rate", optimizer.learning_rate)
                tf.summary.scalar("examples_per_s", ex_s)
        if s % t.histogram_every == 0 or s == t.steps:
            with writers["train"].as_default(step=s):
                for v in variables:
                    tf.summary.histogram("weights/" + v.path, v)
        if s % t.eval_every == 0 or s == t.steps:
            val = quick_eval(task, model, features["validation"], monitored)
            with writers["validation"].as_default(step=s):
                for k, v in val.items():
                    tf.summary.scalar(k, v)
            score = score_of(val)
            if score > float(best):
                best.assign(score)
                bad_evals.assign(0)
                _save_best(model, out)
            else:
                bad_evals.assign_add(1)
            if t.early_stopping_patience and int(bad_evals) >= t.early_stopping_patience:
                stopped = "early_stopping"
        if s % t.checkpoint_every == 0 or s == t.steps or stopped != "steps":
            manager.save(checkpoint_number=s)
        if stopped != "steps":
            break
        if t.time_budget_s and time.time() - start_time >= t.time_budget_s:
            stopped = "time_budget"
            val = quick_eval(task, model, features["validation"], monitored)
            if score_of(val) > float(best):
                best.assign(score_of(val))
                _save_best(model, out)
            manager.save(checkpoint_number=s)
            break
        if t.interrupt_after_steps and run_steps >= t.interrupt_after_steps:
            manager.save(checkpoint_number=s)
            progress.close()
            log(f"interrupted after {run_steps} steps (train.interrupt_after_steps)")
            return None
    progress.close()
    if not os.path.exists(os.path.join(out, "best.weights.h5")):
        _save_best(model, out)
    for w in writers.values():
        w.flush()
    common.write_manifest(workdir, "train", section, inputs, started=started,
                          metrics={"steps": int(step),
                                   f"best_val_{key}": sign * float(best),
                                   "stopped_by": stopped,
                                   "train_seconds": round(time.time() - start_time, 1),
                                   "parameters": count_parameters(variables)},
                          vocab_hash=tr_manifest["vocab_hash"])
    return out


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


def evaluate(task, config, workdir):
    """The task's metrics on validation and test, and the blessing: the primary
    validation metric must be finite, pass `eval.bless_threshold` and be no worse than the
    last blessed model of the same name (`pipelines.blessing`)."""
    train_manifest = common.read_manifest(workdir, "train")
    inputs = common.fingerprint({"train": train_manifest, "eval": config.eval.to_dict()})
    out = common.stage_dir(workdir, "evaluate")
    if common.up_to_date(workdir, "evaluate", inputs):
        return out
    started = common.now_iso()
    model = load_best(task, workdir)
    metrics = {s: task.evaluate(model, load_features(workdir, s))
               for s in ("validation", "test")}
    os.makedirs(out, exist_ok=True)
    common.write_json_atomic(os.path.join(out, "metrics.json"), metrics)
    record = blessing.write(config, workdir, out, task.primary,
                            metrics["validation"][task.primary], config.eval.bless_threshold,
                            task.higher_is_better)
    common.write_manifest(workdir, "evaluate", config.eval.to_dict(), inputs,
                          metrics=metrics, started=started, blessed=record["blessed"],
                          reason=record["reason"], warning=record["warning"])
    return out


def export(task, config, workdir):
    """Writes `<workdir>/export/saved_model` via a temporary directory and a rename."""
    from pipelines.export import export_dir
    train_manifest = common.read_manifest(workdir, "train")
    inputs = common.fingerprint({"train": train_manifest, "export": config.export.to_dict()})
    out = common.stage_dir(workdir, "export")
    if common.up_to_date(workdir, "export", inputs) and os.path.isdir(export_dir(workdir)):
        return out
    started = common.now_iso()
    model = load_best(task, workdir)
    module = task.serving_module(model)
    signatures = {name: getattr(module, name if name != "serving_default" else "serve")
                  for name in task.signatures}
    os.makedirs(out, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=out, prefix=".tmp-saved_model-")
    tf.saved_model.save(module, tmp, signatures=signatures)
    common.replace_dir_atomic(tmp, export_dir(workdir))
    task.after_export(export_dir(workdir), out)
    common.write_manifest(workdir, "export", config.export.to_dict(), inputs,
                          started=started, saved_model=export_dir(workdir),
                          signatures=sorted(signatures))
    return out


def track_variables(module, model):
    """Tracks the backing tf.Variables of a Keras 3 model on a serving module, so TF1-style
    loaders (saved_model_cli run, TF Serving) find them (keras-team/keras#19274)."""
    module.model = model
    module.model_variables = [getattr(v, "value", v) for v in model.variables]
