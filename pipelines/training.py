"""What the training loop is made of: the learning-rate schedules, the progress line,
checkpoints, TensorBoard writers, and the divergence error.

Used by `pipelines.trainer` (the one loop) and by the tasks' summaries.
"""

import contextlib
import io
import os
import signal
import sys
import threading
import time

import keras
import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import api as hp

from pipelines import common


# train.max_loss when a config has none: in nats per unit (character, token, example,
# step), far above any model's loss before training (ln of a million classes is 13.8).
MAX_LOSS = 1e4


class Diverged(common.UserError):
    """The loss became NaN, Inf, or larger than train.max_loss."""


def divergence_advice(loss, step, max_loss, manager):
    """The one line the divergence guard raises: what happened, and the recovery that
    works from what is on disk (the resume accepts a changed learning rate or clip norm)."""
    what = f"loss became {loss:.4g} at step {step}" + (
        f" (above train.max_loss={max_loss:g})" if loss > max_loss else "")
    if manager.latest_checkpoint:
        return (f"{what}; stopped. The last good checkpoint is "
                f"{manager.latest_checkpoint}: lower train.learning_rate (or "
                "train.clip_norm) and pass --resume to continue from it.")
    return (f"{what}; stopped before any checkpoint was saved. Lower train.learning_rate "
            "(or train.clip_norm) and run the command again.")


class WorkerLost(common.UserError):
    """Under multi_worker, a peer died (its collectives failed): the job resumes when
    every worker is restarted with --resume (keras.callbacks.BackupAndRestore's
    semantics). Exit status 75 (EX_TEMPFAIL: try again)."""
    exit_code = 75


class Interrupted(common.UserError):
    """SIGTERM or SIGINT (Ctrl-C) stopped training after a checkpoint was saved; the CLI
    exits with `exit_code` (128 + the signal's number)."""

    def __init__(self, message, exit_code):
        super().__init__(message)
        self.exit_code = exit_code


@contextlib.contextmanager
def stop_requests():
    """While training: SIGTERM and SIGINT set `requests["signal"]` (the signal's number)
    instead of killing the process, so the loop can save a checkpoint and stop between
    steps. The previous handlers come back after. Outside the main thread (where Python
    cannot catch signals) nothing is caught."""
    requests = {"signal": None}
    if threading.current_thread() is not threading.main_thread():
        yield requests
        return

    def handler(signum, frame):
        requests["signal"] = signum
    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield requests
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def count_parameters(variables):
    """The number of scalars in `variables` (for the train manifest)."""
    return int(sum(np.prod(v.shape) for v in variables))


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


def update_average(averages, variables, decay):
    """Polyak averaging after an update: e <- decay e + (1 - decay) w for each average
    e (a tf.Variable that starts as the initial weights w0) and weight w.

    Keras's optimizer EMA (`use_ema=True, ema_momentum=decay`) computes the same
    recurrence but starts from the first updated weights w1, so after N updates it is
    this average + decay^N (w1 - w0) (tests/test_one_pipeline.py checks that). The loop
    keeps its own because validation must score the averaged weights and then train the
    raw ones on: Keras keeps its averages private, and its one public use of them,
    `finalize_variable_values`, overwrites the model's weights for good."""
    for e, w in zip(averages, variables):
        e.assign(decay * e + (1.0 - decay) * w)


def swap(variables, others):
    """Exchanges the values of two lists of variables of equal shapes."""
    for v, o in zip(variables, others):
        value = tf.identity(v)
        v.assign(o)
        o.assign(value)


def figure_image(draw, size):
    """A matplotlib figure as a [1, H, W, 4] uint8 PNG image for tf.summary.image:
    `draw(plt, fig)` fills a figure of `size` (inches, at 80 dpi)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=size, dpi=80)
    draw(plt, fig)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return tf.image.decode_png(buf.getvalue(), channels=4)[None]


def bptt_plot(total, lag, reach):
    """PNG of the BPTT view (`rnn_tf.diagnostics.state_gradient_norms`) as a [1, H, W, 4]
    uint8 image for tf.summary: left, ||dL<T>/da<T-k>|| against the lag k, log scale,
    with the reach marked; right, ||dL/da<t>|| (L summed over steps) against t."""
    return figure_image(lambda plt, fig: _bptt_axes(fig.subplots(1, 2), total, lag, reach),
                        (10, 3.4))


def _bptt_axes(axes, total, lag, reach):
    left, right = axes
    left.semilogy(np.arange(len(lag)), np.maximum(lag, 1e-30))
    if 0 < reach < len(lag):
        left.axvline(reach, color="grey", linestyle=":")
    left.set_xlabel("lag k (steps back from the window's last step T)")
    left.set_ylabel("||dL<T>/da<T-k>||")
    left.set_title(f"how far back the gradient reaches: {reach} steps to 1e-3")
    right.semilogy(np.arange(1, len(total) + 1), np.maximum(total, 1e-30))
    right.set_xlabel("step t in the window")
    right.set_ylabel("||dL/da<t>||, L = sum of L<t>")
    right.set_title("what BPTT carries to each step")


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


def mark_start(out, step):
    """Writes TensorBoard's restart marker (a START event) at `step`, the first step this
    run logs, to `<out>/logs/{train,validation}`, as TensorFlow's Supervisor did whenever
    training started.
    TensorBoard takes every START after the first as a restart and drops the events of
    steps >= `step` written before it: the steps a killed run logged past its last
    checkpoint, which the resumed run logs again, so each step shows once.

    The marker's file sorts after the event files of earlier runs (an earlier second) and
    before the ones this run's writers open (the same or a later second: '-' sorts before
    a host name)."""
    from tensorboard.compat.proto import event_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter
    now = time.time()
    for kind in ("train", "validation"):
        folder = os.path.join(out, "logs", kind)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"events.out.tfevents.{int(now):010d}.-start-"
                                       f"{step}"), "wb") as f:
            writer = RecordWriter(f)
            writer.write(event_pb2.Event(wall_time=now,
                                         file_version="brain.Event:2").SerializeToString())
            writer.write(event_pb2.Event(
                step=step, wall_time=now,
                session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START))
                .SerializeToString())


def open_writers(out, config, metrics):
    """TensorBoard writers `<out>/logs/{train,validation}`. The config is logged as the
    hparams at `<out>/logs`, whose metric columns are `metrics` (names) as the validation
    run logs them: the validation scores that select the model."""
    logs = os.path.join(out, "logs")
    writers = {k: tf.summary.create_file_writer(os.path.join(logs, k))
               for k in ("train", "validation")}
    values = {k: (v if isinstance(v, (int, float, str, bool)) else str(v))
              for k, v in common.flatten(config.to_dict()).items()}
    with tf.summary.create_file_writer(logs).as_default():
        hp.hparams_config(hparams=[hp.HParam(k) for k in values],
                          metrics=[hp.Metric(m, group="validation", display_name=
                                             f"validation {m}") for m in metrics])
        hp.hparams(values)
    return writers


def scalars_to_log(metrics):
    """The validation metrics worth a chart: floats only (counts such as the number of
    examples are the same at every step)."""
    return {k: v for k, v in metrics.items()
            if isinstance(v, (float, np.floating)) and not isinstance(v, bool)}


def preformatted(text):
    """`text` as a Markdown code block (each line indented 4 spaces), so TensorBoard's
    text plugin shows its spaces, newlines and markup characters as written."""
    return "\n".join("    " + line for line in str(text).split("\n"))


def save_best(model, out):
    """Writes `<out>/best.weights.h5` through a temporary file and a rename."""
    tmp = os.path.join(out, f".tmp-{os.getpid()}-best.weights.h5")
    model.save_weights(tmp)
    os.replace(tmp, os.path.join(out, "best.weights.h5"))
