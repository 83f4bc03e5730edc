"""Stage 3, train: the one training loop, for every task.

A GradientTape step (`tf.function`, XLA with train.jit_compile) with global-norm clipping,
warm-up + cosine learning rate (or the time-budget schedule), and the task's hooks
(`pipelines.tasks.base.Task`) for what differs: its batches (shuffled and bucketed by
length, truncated-BPTT rows, random windows), a state carried from step to step
(truncated BPTT), its loss and its validation metrics.

Around the step:
  - a divergence guard: a loss that is NaN, Inf or above train.max_loss updates nothing
    and stops the run, naming the last good checkpoint (or saying there is none);
  - validation every train.eval_every steps (and at the last step), selecting the best
    weights on `train.monitor` (the task's primary metric, or the validation loss), with
    early stopping after train.early_stopping_patience evaluations without improvement;
  - train.ema_decay > 0: an exponential moving average of the weights (Polyak averaging,
    `training.update_average`). Validation then scores, selects and saves the averaged
    weights and logs the raw weights' score beside them (`validation/<primary>_without_ema`);
  - a time budget (train.time_budget_s) that evaluates and stops at the step it runs out;
  - checkpoints (model, optimizer, step, input iterator, carried state, moving average,
    best score), so `--resume` continues exactly where a run stopped: with op determinism
    on and every random draw seeded or stateless from (train.seed, step), a run killed
    at any step and resumed ends with the same bits as one that was not;
  - SIGTERM and SIGINT (Ctrl-C) save a checkpoint between steps and stop with one line
    saying how to resume (`training.Interrupted`, exit status 128 + the signal);
  - TensorBoard (`<workdir>/train/logs/{train,validation}`): the loss and the task's
    metrics, gradient and parameter norms, learning rate, throughput, weight histograms,
    the task's summaries and text samples, and the config as hparams.
"""

import contextlib
import math
import os
import shutil
import signal
import time

import keras
import tensorflow as tf

from pipelines import common, distribute, training
from pipelines.tasks import base
from rnn_tf import diagnostics


def inputs(task, config, workdir):
    """The fingerprint of what the artifact is made from."""
    return common.fingerprint({
        "transform": common.read_manifest(workdir, "transform")["inputs_fingerprint"],
        "section": {"model": config.model.to_dict(), "train": config.train.to_dict()}})


def run(task, config, workdir, fingerprint, resume=False, log=print):
    """Trains; returns the train artifact directory (checkpoints, best weights, logs), or
    None when train.interrupt_after_steps stopped it on purpose. SIGTERM or SIGINT saves a
    checkpoint and raises `training.Interrupted`. Under multi_worker, a dead peer (its
    collectives fail) raises `training.WorkerLost`."""
    try:
        with contextlib.ExitStack() as stack:
            return _train(task, config, workdir, fingerprint, resume, log, stack)
    except distribute.PEER_ERRORS as error:
        if distribute.name_of(config) != "multi_worker":
            raise
        raise training.WorkerLost(distribute.lost_peer(workdir, error)) from None


def _train(task, config, workdir, fingerprint, resume, log, stack):
    t = config.train
    ema_decay = t.get("ema_decay", 0.0)
    max_loss = t.get("max_loss", training.MAX_LOSS)
    if not 0.0 <= ema_decay < 1.0:
        raise common.UserError(f"train.ema_decay={ema_decay} is out of range; use 0 (off) "
                               "or a decay in (0, 1) such as 0.998.")
    monitored = t.get("monitor", "")
    key, sign = base.monitor(task, monitored)
    out = common.stage_dir(workdir, "train")
    started = common.now_iso()
    strategy = distribute.make(config)
    replicas = strategy.num_replicas_in_sync
    chief = distribute.is_chief(strategy)
    keras.utils.set_random_seed(t.seed)
    # the same inputs give the same bits, so a killed and resumed run ends as one that
    # was not (every random draw is seeded or stateless from (seed, step))
    tf.config.experimental.enable_op_determinism()
    prepared = time.time()
    # work a task does once before the loop (the tagger's frozen LM states) counts against
    # the time budget, as steps would
    features = task.prepare_features({s: base.load_features(workdir, s)
                                      for s in ("train", "validation")})
    prepare_seconds = time.time() - prepared
    # one device: a checkpointed iterator; replicas: distributed after the restore, from
    # the restored step (`distribute.distributed_batches`)
    iterator = iter(task.train_dataset(features["train"])) if replicas == 1 else None
    with strategy.scope():           # variables and optimizer slots, mirrored if replicated
        model = base.build(task, workdir)
        schedule = training.learning_rate(config)
        optimizer = keras.optimizers.Adam(schedule)
        task.build_variables(model, features["train"])
        variables = model.trainable_variables
        optimizer.build(variables)
        carry = task.carried_state(model)
        # the averaged weights, in the checkpoint so that a resume continues the average;
        # every replica computes the same average, the first one's is kept
        ema = [tf.Variable(v, trainable=False, name="ema/" + v.name,
                           aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
               for v in variables] if ema_decay else []
    # the loop's counters, kept by the host (every worker counts alike)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    best = tf.Variable(-math.inf, dtype=tf.float64, trainable=False, name="best_score")
    bad_evals = tf.Variable(0, dtype=tf.int64, trainable=False, name="bad_evals")
    if carry and replicas > 1:
        raise common.UserError(
            f"train.carry_state=True carries each row's state from window to window, which "
            f"this loop keeps on one replica; with train.strategy={t.strategy!r} set "
            "train.carry_state=False, or use train.strategy='default'.")
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step, best=best,
                                     bad_evals=bad_evals)
    # every model variable by itself too: a functional Keras model's checkpoint reaches
    # its weights only through the optimizer, and not the dropout layers' seed states,
    # which a resume needs to draw the masks an uninterrupted run draws
    checkpoint.model_variables = [getattr(v, "value", v) for v in model.variables]
    if iterator is not None:
        checkpoint.iterator = iterator
    if carry:
        checkpoint.carry = carry
    if ema:
        checkpoint.ema = ema
    # a worker other than the chief writes its checkpoints (every worker must take part
    # in a save) to a place of its own, removed when training ends, as TensorFlow's
    # multi-worker guide prescribes; a restarted worker resumes from it (every worker
    # saves the same values at the same steps)
    scratch = None if chief else distribute.worker_checkpoints(workdir)
    manager = training.checkpoint_manager(checkpoint, scratch or out, t, resume, log, step)
    if replicas > 1:
        iterator = distribute.distributed_batches(
            strategy, lambda: task.train_dataset(features["train"]), int(step), t.batch_size)

    def train_step(batch):
        """One step on one replica's rows of the global batch (all of it on one)."""
        with tf.GradientTape() as tape:
            seed = tf.stack([tf.constant(t.seed, tf.int64), step])   # stateless draws
            loss, metrics, final = task.train_loss(model, batch, carry, seed)
            total = loss + (tf.add_n(model.losses) if model.losses else 0.0)
        grads = tape.gradient(total, variables)
        grads = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
                 for g, v in zip(grads, variables)]
        if replicas > 1:
            # this replica's share of the global batch's units: the summed gradient is
            # the one-device gradient of the task's mean (per example or per token)
            context = tf.distribute.get_replica_context()
            units = tf.cast(task.loss_units(batch), tf.float32)
            share = tf.math.divide_no_nan(units, context.all_reduce("sum", units))
            grads = context.all_reduce("sum", [g * share for g in grads])
            loss, metrics = context.all_reduce("sum", ([loss * share],
                                                       {k: v * share for k, v in
                                                        metrics.items()}))
            loss = loss[0]
        grads, norm = tf.clip_by_global_norm(grads, t.clip_norm)
        finite = loss <= max_loss
        # a non-finite or diverged loss updates nothing: the guard below stops the run
        grads = [tf.where(finite, g, tf.zeros_like(g)) for g in grads]
        if replicas > 1:
            # Keras's optimizer sums the replicas' gradients again: each passes 1/R of the
            # reduced gradient (exact for R a power of 2)
            grads = [g / replicas for g in grads]
        optimizer.apply_gradients(zip(grads, variables))
        training.update_average(ema, variables, ema_decay)
        for v, value in zip(tf.nest.flatten(carry), tf.nest.flatten(final)):
            v.assign(tf.where(finite, tf.cast(value, v.dtype), v))   # float32 in mixed
        return loss, norm, metrics

    # One trace for every batch of the input pipeline's element spec (None where batches
    # differ in size or length): a graph traced for some static shape could compute a
    # different sum order than the generalised one, and a resumed run, which sees the
    # shapes in another order, must run the same graph as the uninterrupted run.
    if replicas == 1:
        signature = None if iterator is None else [iterator.element_spec]
        step_fn = tf.function(train_step, jit_compile=t.jit_compile,
                              input_signature=signature, reduce_retracing=signature is None)
    else:
        if t.jit_compile:
            log(f"train.jit_compile is not used under train.strategy={t.strategy!r}: XLA "
                "does not compile the step's cross-replica all-reduce here (the layer's "
                "own loops run as they do without XLA)")
        replicated = tf.function(lambda batch: strategy.run(train_step, args=(batch,)),
                                 reduce_retracing=True)
        step_fn = lambda batch: distribute.first(strategy, replicated(batch))
    if chief:                         # a resumed run's replayed steps show once
        training.mark_start(out, int(step) + 1)
    writers = training.open_writers(out, config, sorted({key, "loss"})) if chief else {
        k: tf.summary.create_noop_writer() for k in ("train", "validation")}
    unit = task.throughput_unit
    progress = training.Progress(t.steps, unit={"tokens": "tok"}.get(unit, unit))
    start_time, start_step, run_steps = time.time() - prepare_seconds, int(step), 0
    last_log, counted = time.time(), 0
    stopped = "steps"
    requests = stack.enter_context(training.stop_requests())

    def validate(s, batch):
        """Validation at step s; saves the weights when they score best so far. Logs the
        BPTT view of the training batch `batch` (one replica's rows)."""
        on = chief and t.get("bptt_view_rows", base.VIEW_ROWS)
        views = task.bptt_view(model, batch) if on else None
        if views is not None and not isinstance(views, dict):
            views = {"": views}
        for name, view in (views or {}).items():
            reach, suffix = diagnostics.reach(view[1]), f"/{name}" if name else ""
            with writers["train"].as_default(step=s):
                tf.summary.image("bptt_gradient" + suffix, training.bptt_plot(*view, reach))
                tf.summary.scalar("gradient_reach_steps" + suffix, reach)
        if ema:
            raw = base.quick_eval(task, model, features["validation"], monitored)
            training.swap(variables, ema)       # the model now holds the averaged weights
        val = base.quick_eval(task, model, features["validation"], monitored)
        if "loss" not in val:              # the train run's `loss`, on validation
            val["loss"] = task.validation_loss(model, features["validation"])
        with writers["validation"].as_default(step=s):
            for k, v in training.scalars_to_log(val).items():
                tf.summary.scalar(k, v)
            if ema:
                tf.summary.scalar(f"{key}_without_ema", raw[key])
        score = sign * val[key]
        if score > float(best):                    # NaN never improves
            best.assign(score)
            bad_evals.assign(0)
            if chief:
                training.save_best(model, out)
        else:
            bad_evals.assign_add(1)
        if ema:
            training.swap(variables, ema)

    while int(step) < t.steps:
        batch = next(iterator)
        local = strategy.experimental_local_results(batch) if replicas > 1 else (batch,)
        training.tick_budget(schedule, start_time, t.time_budget_s)
        loss, norm, metrics = step_fn(batch)
        if not float(loss) <= max_loss:          # NaN, Inf, or finite but diverged
            raise training.Diverged(training.divergence_advice(
                float(loss), int(step) + 1, max_loss, manager))
        counted += sum(task.units_of(b) for b in local)
        step.assign_add(1)
        run_steps += 1
        s = int(step)
        if s % t.log_every == 0 or s == t.steps:
            now = time.time()
            per_s = counted / max(now - last_log, 1e-9)
            last_log, counted = now, 0
            elapsed = now - start_time
            remaining = elapsed / max(s - start_step, 1) * (t.steps - s)
            if t.time_budget_s:
                remaining = min(remaining, max(t.time_budget_s - elapsed, 0))
            progress.update(s, float(loss), per_s, remaining)
            with writers["train"].as_default(step=s):
                tf.summary.scalar("loss", loss)
                for k, v in metrics.items():
                    tf.summary.scalar(k, v)
                tf.summary.scalar("gradient_global_norm", norm)
                tf.summary.scalar("parameter_norm", tf.linalg.global_norm(variables))
                tf.summary.scalar("learning_rate", optimizer.learning_rate)
                tf.summary.scalar(f"{unit}_per_s", per_s)
        if s % t.histogram_every == 0 or s == t.steps:
            with writers["train"].as_default(step=s):
                for v in variables:
                    tf.summary.histogram("weights/" + v.path, v)
                for name, value in task.summaries(model, local[0]).items():
                    kind, tag = name.split("/", 1)
                    (tf.summary.image if kind == "image" else tf.summary.histogram)(tag, value)
        if t.get("sample_every", 0) and (s % t.sample_every == 0 or s == t.steps):
            with writers["train"].as_default(step=s):
                for name, value in task.samples(model, s, features["validation"]).items():
                    if isinstance(value, str):
                        tf.summary.text(name, training.preformatted(value))
                    else:
                        tf.summary.image(name, value)
        out_of_time = bool(t.time_budget_s) and time.time() - start_time >= t.time_budget_s
        at_stop = bool(t.stop_at_step) and s >= t.stop_at_step
        if s % t.eval_every == 0 or s == t.steps or out_of_time or at_stop:  # last step counts
            validate(s, local[0])
            if t.early_stopping_patience and int(bad_evals) >= t.early_stopping_patience:
                stopped = "early_stopping"
        if out_of_time and stopped == "steps":
            stopped = "time_budget"
        if at_stop and stopped == "steps":
            stopped = "stop_at_step"
        if s % t.checkpoint_every == 0 or s == t.steps or stopped != "steps":
            manager.save(checkpoint_number=s)
        if stopped != "steps":
            break
        if requests["signal"] is not None:
            manager.save(checkpoint_number=s)
            progress.close()
            name = signal.Signals(requests["signal"]).name
            raise training.Interrupted(
                f"{name} stopped training at step {s}; a checkpoint is saved in "
                f"{manager.directory}. Resume with the same command and --resume.",
                128 + requests["signal"])
        if t.interrupt_after_steps and run_steps >= t.interrupt_after_steps:
            manager.save(checkpoint_number=s)
            progress.close()
            log(f"interrupted after {run_steps} steps (train.interrupt_after_steps)")
            return None
    progress.close()
    if not chief:
        shutil.rmtree(scratch, ignore_errors=True)
        log(f"worker {strategy.cluster_resolver.task_id} finished training; the chief "
            "evaluates, exports and pushes")
        return None
    if not os.path.exists(os.path.join(out, "best.weights.h5")):
        training.save_best(model, out)
    for w in writers.values():
        w.flush()
    common.write_manifest(workdir, "train", {"model": config.model.to_dict(),
                                             "train": t.to_dict()}, fingerprint,
                          started=started,
                          metrics={"steps": int(step), f"best_val_{key}": sign * float(best),
                                   "stopped_by": stopped,
                                   "train_seconds": round(time.time() - start_time, 1),
                                   "parameters": training.count_parameters(variables)},
                          vocab_hash=common.read_manifest(workdir, "transform")["vocab_hash"])
    return out
