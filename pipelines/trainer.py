"""Stage 3, train: GradientTape BPTT over truncated windows, with everything a resume needs.

The state of each batch row is carried from one window to the next (truncated BPTT) and
reset where a row starts a new document. A checkpoint holds the model, the optimizer, the
step, the tf.data iterator, the carried state and the RNG states (dropout's seed lives in
the model), so `--resume` continues exactly where a run stopped.

TensorBoard (`<workdir>/train/logs/{train,validation}`): loss, nats/char, bits/char,
gradient global norm, parameter norm, learning rate, tokens/s; histograms of weights and
hidden activations; generated samples as text; the config as hparams; and an image of
|dL/da<t>| for every step t of a window (how far back the gradient reaches).

With `train.ema_decay` > 0 the trainer also keeps an exponential moving average of the
weights (Polyak averaging, `e <- d e + (1 - d) w` after every update). Validation then
scores, selects and saves the averaged weights, and logs the raw weights' score beside them
(`validation/nats_per_char_without_ema`), so one run shows what the average is worth.
"""

import io
import math
import os
import sys
import time
import weakref

import keras
import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import api as hp

from pipelines import common, transform
from rnn_tf import heads
from rnn_tf.models import LanguageModel
from rnn_tf.sampling import Generator


class Diverged(common.UserError):
    """The loss became NaN or Inf."""


def count_parameters(variables):
    """The number of scalars in `variables` (for the train manifest)."""
    return int(sum(np.prod(v.shape) for v in variables))


def build_model(config, vocab_size):
    m = config.model
    return LanguageModel(vocab_size, units=m.units, cell=m.cell, num_layers=m.num_layers,
                         dropout=m.dropout, residual=m.residual,
                         output_dropout=m.output_dropout, name="char_lm")


class BudgetSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """A step schedule that also runs by the clock, for runs bounded by a time budget.

    At optimizer step s, after a fraction f of the time budget (`progress`, which the
    training loop sets), the rate is `base(max(s, f * steps))`: the schedule follows
    whichever is further along, so its decay ends when the budget does even when the
    machine is slower than `steps` assumed. With f = 0 it is `base` itself.
    """

    def __init__(self, base, steps):
        self.base, self.steps = base, int(steps)
        self.progress = tf.Variable(0.0, trainable=False, name="budget_progress")

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        return self.base(tf.maximum(step, self.progress * float(self.steps)))

    def get_config(self):
        return {"base": keras.optimizers.schedules.serialize(self.base), "steps": self.steps}

    @classmethod
    def from_config(cls, config):
        return cls(keras.optimizers.schedules.deserialize(config["base"]), config["steps"])


def learning_rate(config):
    """Warm-up and cosine decay to 5% over train.steps; with train.schedule='budget', run
    by the step or by the fraction of train.time_budget_s spent, whichever is further
    (`BudgetSchedule`; the training loop sets its progress)."""
    t = config.train
    if t.schedule not in ("steps", "budget"):
        raise common.UserError(f"train.schedule={t.schedule!r} is not known; use 'steps' "
                               "(decay over train.steps) or 'budget' (also by the clock).")
    if t.schedule == "budget" and not t.time_budget_s:
        raise common.UserError("train.schedule='budget' decays by the time budget; set "
                               "train.time_budget_s > 0 or use train.schedule='steps'.")
    warmup = min(t.warmup_steps, max(t.steps - 1, 0))
    base = keras.optimizers.schedules.CosineDecay(
        0.0 if warmup else t.learning_rate, max(t.steps - warmup, 1), alpha=0.05,
        warmup_target=t.learning_rate if warmup else None, warmup_steps=warmup)
    return BudgetSchedule(base, t.steps) if t.schedule == "budget" else base


def tick_budget(schedule, start_time, budget_s):
    """Sets a BudgetSchedule's progress to the fraction of `budget_s` spent since
    `start_time` (this run's clock, as the time budget counts it); else does nothing."""
    if isinstance(schedule, BudgetSchedule):
        schedule.progress.assign(min((time.time() - start_time) / budget_s, 1.0))


def _swap(variables, others):
    """Exchanges the values of two lists of variables of equal shapes."""
    for v, o in zip(variables, others):
        value = tf.identity(v)
        v.assign(o)
        o.assign(value)


def evaluate_nats(model, arrays, batch_size=256):
    """Mean nats/char over the windows of a split, state reset to zero per window."""
    total, count = 0.0, 0.0
    fn = _eval_fn(model)
    for i in range(0, len(arrays["inputs"]), batch_size):
        s, c = fn(arrays["inputs"][i:i + batch_size], arrays["targets"][i:i + batch_size],
                  arrays["mask"][i:i + batch_size])
        total += float(s)
        count += float(c)
    return total / max(count, 1.0)


_EVAL_FNS = weakref.WeakKeyDictionary()   # not on the model: it would be saved with it


def _eval_fn(model):
    if model not in _EVAL_FNS:
        @tf.function(reduce_retracing=True)
        def fn(x, y, m):
            logits, _ = model(x, mask=m, training=False)
            nll = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
            m = tf.cast(m, tf.float32)
            return tf.reduce_sum(nll * m), tf.reduce_sum(m)
        _EVAL_FNS[model] = fn
    return _EVAL_FNS[model]


def decode(vocab, ids):
    return "".join(vocab[i] if i > 0 else "\ufffd" for i in ids)


def _gradient_plot(norms):
    """PNG bytes of |dL/da<t>| against t, as a [1, H, W, 4] uint8 image for tf.summary."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3), dpi=80)
    ax.semilogy(np.arange(1, len(norms) + 1), np.maximum(norms, 1e-12))
    ax.set_xlabel("time step t in the window")
    ax.set_ylabel("mean |dL/da<t>|")
    ax.set_title("how far back the gradient reaches")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return tf.image.decode_png(buf.getvalue(), channels=4)[None]


class Progress:
    """Step, loss, tokens/s and time left: one updating line on a terminal, plain lines
    (no carriage returns) when stdout is a file or a pipe."""

    def __init__(self, total, unit="tok"):
        self.total, self.tty, self.start = total, sys.stdout.isatty(), time.time()
        self.unit = unit

    def update(self, step, loss, tokens_per_s, remaining_s):
        line = (f"step {step}/{self.total}  loss {loss:.4f}  {tokens_per_s:,.0f} "
                f"{self.unit}/s  "
                f"~{remaining_s:.0f}s left")
        if self.tty:
            print("\r" + line.ljust(79), end="", flush=True)
        else:
            print(line, flush=True)

    def close(self):
        if self.tty:
            print(flush=True)


def _restore(manager, checkpoint, log):
    """Restores the newest readable checkpoint; a corrupt one is skipped with a message."""
    for path in reversed(manager.checkpoints):
        try:
            checkpoint.restore(path).assert_existing_objects_matched()
            return path
        except Exception as e:  # noqa: BLE001  any failure to read means unusable
            log(f"checkpoint {os.path.basename(path)} is corrupt ({type(e).__name__}); "
                "falling back to the previous one")
    return None


def checkpoint_manager(checkpoint, out, t, resume, log, step):
    """The run's CheckpointManager (`<out>/checkpoints`). Refuses existing checkpoints
    without --resume; with it, restores the newest readable one."""
    manager = tf.train.CheckpointManager(checkpoint, os.path.join(out, "checkpoints"),
                                         max_to_keep=t.keep_checkpoints)
    if manager.checkpoints and not resume:
        raise common.UserError(
            f"{out} already holds checkpoints of a run. Pass --resume to continue it or "
            "--overwrite to start again.")
    if resume and manager.checkpoints:
        path = _restore(manager, checkpoint, log)
        log(f"resumed from {path} at step {int(step)}" if path else
            "no readable checkpoint: starting from step 0")
    return manager


def open_writers(out, config):
    """TensorBoard writers `<out>/logs/{train,validation}`, the config logged as hparams."""
    logs = os.path.join(out, "logs")
    writers = {k: tf.summary.create_file_writer(os.path.join(logs, k))
               for k in ("train", "validation")}
    with writers["train"].as_default():
        hp.hparams({k: (v if isinstance(v, (int, float, str, bool)) else str(v))
                    for k, v in common.flatten(config.to_dict()).items()})
    return writers


def _batches(config, train):
    """`next_batch(iterator, step)` -> (inputs, targets <int32>[B, T], mask <bool>[B, T],
    reset <bool>[B]) for `train.windows`:
      'consecutive': the transform's truncated-BPTT rows in order (the iterator's next);
      'random': B windows at uniformly drawn positions of the training text, the draw a
        function of (train.seed, step) only, so a resumed run draws what it would have.
    """
    t = config.train
    if t.windows not in ("consecutive", "random"):
        raise common.UserError(f"train.windows={t.windows!r} is not known; use 'consecutive' "
                               "(truncated-BPTT rows) or 'random' (windows at random positions).")
    if t.windows == "consecutive":
        return lambda iterator, step: next(iterator)
    if t.carry_state:
        raise common.UserError("train.windows='random' starts every window from a zero state; "
                               "set train.carry_state=False, or use train.windows='consecutive'.")
    if len(train.get("starts", ())) == 0:
        raise common.UserError(f"no training document is longer than train.seq_len="
                               f"{t.seq_len}; lower train.seq_len or use "
                               "train.windows='consecutive'.")
    stream, starts = tf.constant(train["stream"]), tf.constant(train["starts"])
    B, L = t.batch_size, t.seq_len

    @tf.function
    def draw(step):
        seed = tf.stack([tf.constant(t.seed, tf.int64), step])
        i = tf.random.stateless_uniform([B], seed, minval=0, maxval=tf.size(starts, tf.int64),
                                        dtype=tf.int64)
        w = tf.gather(stream, tf.gather(starts, i)[:, None] + tf.range(L + 1, dtype=tf.int64))
        return w[:, :-1], w[:, 1:], tf.ones([B, L], tf.bool), tf.ones([B], tf.bool)
    return lambda iterator, step: draw(tf.convert_to_tensor(step))


def run(config, workdir, resume=False, log=print):
    """Trains; returns the train artifact directory (checkpoints, best weights, logs)."""
    t = config.train
    if not 0.0 <= t.ema_decay < 1.0:
        raise common.UserError(f"train.ema_decay={t.ema_decay} is out of range; use 0 (off) "
                               "or a decay in (0, 1) such as 0.998.")
    out = common.stage_dir(workdir, "train")
    tr_manifest = common.read_manifest(workdir, "transform")
    section = {"model": config.model.to_dict(), "train": t.to_dict()}
    inputs = common.fingerprint({"transform": tr_manifest["inputs_fingerprint"],
                                 "section": section})
    if not resume and common.up_to_date(workdir, "train", inputs):
        return out
    started = common.now_iso()
    vocab, arrays = transform.load(workdir)
    keras.utils.set_random_seed(t.seed)
    model = build_model(config, len(vocab))
    B = t.batch_size
    model(tf.zeros([B, 2], tf.int32))
    schedule = learning_rate(config)
    optimizer = keras.optimizers.Adam(schedule)
    optimizer.build(model.trainable_variables)
    carry = [[tf.Variable(s, trainable=False) for s in layer]
             for layer in model.zero_state(B)]
    train = arrays["train"]
    next_batch = _batches(config, train)
    dataset = tf.data.Dataset.from_tensor_slices(
        (train["inputs"], train["targets"], train["mask"], train["reset"])).repeat()
    iterator = iter(dataset)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    best = tf.Variable(math.inf, dtype=tf.float64, trainable=False, name="best_val")
    bad_evals = tf.Variable(0, dtype=tf.int64, trainable=False, name="bad_evals")
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step,
                                     iterator=iterator, carry=carry, best=best,
                                     bad_evals=bad_evals)
    variables = model.trainable_variables
    # the averaged weights, in the checkpoint so that a resume continues the average
    ema = [tf.Variable(v, trainable=False, name="ema/" + v.name) for v in variables
           ] if t.ema_decay else []
    if ema:
        checkpoint.ema = ema
    manager = checkpoint_manager(checkpoint, out, t, resume, log, step)

    def train_step(x, y, m, reset, views):
        """One BPTT step. `views` (a Python bool: its own trace) also returns the first
        layer's activations and |dL/da<t>| per step, only on the steps that log them."""
        if not t.carry_state:       # every window starts from a<0> = 0, as evaluated
            reset = tf.ones_like(reset)
        keep = 1.0 - tf.cast(reset, tf.float32)[:, None]                  # (B, 1)
        state = [[s * keep for s in layer] for layer in carry]
        with tf.GradientTape() as tape:
            logits, final, hidden = model(x, initial_state=state, mask=m, training=True,
                                          return_hidden=True)
            loss = heads.softmax_loss(y, logits, m, "mean_per_token")
        grads = tape.gradient(loss, variables + ([hidden] if views else []))
        d_hidden = grads[-1] if views else None
        grads = [tf.convert_to_tensor(g) for g in grads[:len(variables)]]
        grads, norm = tf.clip_by_global_norm(grads, t.clip_norm)
        finite = tf.math.is_finite(loss)
        # a non-finite loss updates nothing: the guard below stops the run
        grads = [tf.where(finite, g, tf.zeros_like(g)) for g in grads]
        optimizer.apply_gradients(zip(grads, variables))
        for e, v in zip(ema, variables):
            e.assign(t.ema_decay * e + (1.0 - t.ema_decay) * v)
        for layer_vars, layer_vals in zip(carry, final):
            for v, value in zip(layer_vars, layer_vals):
                v.assign(tf.where(finite, value, v))
        if not views:
            return loss, norm
        dA_norm = tf.reduce_mean(tf.norm(d_hidden, axis=-1), axis=0)       # (T,)
        return loss, norm, dA_norm, hidden

    step_fn = tf.function(train_step, jit_compile=t.jit_compile)
    writers = open_writers(out, config)
    generator = Generator(model)
    prime_ids = np.array([[vocab.index(c) if c in vocab else 0 for c in "The "]], np.int32)
    progress = Progress(t.steps)
    start_time, start_step, run_steps = time.time(), int(step), 0
    tokens = B * t.seq_len
    last_log = (time.time(), int(step))
    stopped = "steps"
    while int(step) < t.steps:
        x, y, m, r = next_batch(iterator, step)
        tick_budget(schedule, start_time, t.time_budget_s)
        views = (int(step) + 1) % t.histogram_every == 0 or int(step) + 1 == t.steps
        result = step_fn(x, y, m, r, views)
        loss, norm = result[:2]
        if not np.isfinite(float(loss)):
            raise Diverged(
                f"loss became {float(loss)} at step {int(step) + 1}; stopped. The last good "
                f"checkpoint is kept in {manager.directory}. Lower train.learning_rate or "
                "train.clip_norm and pass --resume.")
        step.assign_add(1)
        run_steps += 1
        s = int(step)
        if s % t.log_every == 0 or s == t.steps:
            now = time.time()
            tok_s = (s - last_log[1]) * tokens / max(now - last_log[0], 1e-9)
            last_log = (now, s)
            elapsed = now - start_time
            remaining = elapsed / max(s - start_step, 1) * (t.steps - s)
            if t.time_budget_s:
                remaining = min(remaining, max(t.time_budget_s - elapsed, 0))
            progress.update(s, float(loss), tok_s, remaining)
            with writers["train"].as_default(step=s):
                tf.summary.scalar("loss", loss)
                tf.summary.scalar("nats_per_char", loss)
                tf.summary.scalar("bits_per_char", loss / math.log(2))
                tf.summary.scalar("gradient_global_norm", norm)
                tf.summary.scalar("parameter_norm", tf.linalg.global_norm(variables))
                tf.summary.scalar("learning_rate", optimizer.learning_rate)
                tf.summary.scalar("tokens_per_s", tok_s)
        if s % t.histogram_every == 0 or s == t.steps:
            with writers["train"].as_default(step=s):
                for v in variables:
                    tf.summary.histogram("weights/" + v.path, v)
                tf.summary.histogram("activations/rnn_0", result[3])
                tf.summary.image("gradient_norm_by_time_step", _gradient_plot(result[2].numpy()))
        if s % t.sample_every == 0 or s == t.steps:
            ids = generator.generate(prime_ids, t.sample_length, temperature=0.8, seed=s)
            with writers["train"].as_default(step=s):
                tf.summary.text("sample", "The " + decode(vocab, ids.numpy()[0]))
        out_of_time = bool(t.time_budget_s) and time.time() - start_time >= t.time_budget_s
        if s % t.eval_every == 0 or s == t.steps or out_of_time:   # the last step counts
            if ema:
                raw = evaluate_nats(model, arrays["validation"])
                _swap(variables, ema)       # the model now holds the averaged weights
            val = evaluate_nats(model, arrays["validation"])
            with writers["validation"].as_default(step=s):
                tf.summary.scalar("nats_per_char", val)
                tf.summary.scalar("bits_per_char", val / math.log(2))
                if ema:
                    tf.summary.scalar("nats_per_char_without_ema", raw)
            if val < float(best):
                best.assign(val)
                bad_evals.assign(0)
                _save_best(model, out)
            else:
                bad_evals.assign_add(1)
            if ema:
                _swap(variables, ema)
            if t.early_stopping_patience and int(bad_evals) >= t.early_stopping_patience:
                stopped = "early_stopping"
        if s % t.checkpoint_every == 0 or s == t.steps or stopped != "steps":
            manager.save(checkpoint_number=s)
        if stopped != "steps":
            break
        if out_of_time:
            stopped = "time_budget"
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
                          metrics={"steps": int(step), "best_val_nats_per_char": float(best),
                                   "parameters": count_parameters(model.trainable_variables),
                                   "stopped_by": stopped,
                                   "train_seconds": round(time.time() - start_time, 1)},
                          vocab_hash=tr_manifest["vocab_hash"])
    return out


def _save_best(model, out):
    tmp = os.path.join(out, ".tmp-best.weights.h5")
    model.save_weights(tmp)
    os.replace(tmp, os.path.join(out, "best.weights.h5"))


def load_best(config, workdir):
    vocab, _ = transform.load(workdir)
    model = build_model(config, len(vocab))
    model(tf.zeros([1, 2], tf.int32))
    model.load_weights(os.path.join(common.stage_dir(workdir, "train"), "best.weights.h5"))
    return model, vocab
