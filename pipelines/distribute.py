"""tf.distribute for the training loop: which strategy `train.strategy` names, the devices
it needs, and what only the chief writes.

    default       tf.distribute.get_strategy(): one device, TensorFlow's placement
    one_device    OneDeviceStrategy on the first GPU, else the CPU
    mirrored      MirroredStrategy over every local GPU; without GPUs, over
                  train.replicas logical CPU devices (for testing the multi-replica path)
    multi_worker  MultiWorkerMirroredStrategy; the cluster is read from TF_CONFIG
    tpu           TPUStrategy through TPUClusterResolver(train.tpu); not testable here

How the loop uses it (`pipelines.trainer`): the model, optimizer, moving average and
counters are created in `strategy.scope()`; the input goes through
`distribute_datasets_from_function` (`distributed_batches`), each replica getting its rows
of the global batch a one-device run takes at the same step; `strategy.run` runs the step
on each, weighting each replica's loss by its
share of the batch's units (examples, or valid tokens for per-token means) so that the
summed gradient is the one-device gradient of the lecture's reduction; the gradients are
all-reduced once, clipped by their global norm, and applied.
"""

import json
import os

import tensorflow as tf

from pipelines import common


def name_of(config):
    """`train.strategy` (checked by `pipelines.config_check`: one of its STRATEGIES)."""
    return config.train.get("strategy", "default")


_MADE = {}     # multi_worker: the strategy made at start-up, as its collectives need


def configure_devices(config):
    """What must happen before TensorFlow's runtime starts (the CLI calls it first):
    'mirrored' on a machine without GPUs splits the CPU into train.replicas logical
    devices; 'multi_worker' makes its strategy (its collective ops are configured at
    program start-up)."""
    if name_of(config) == "multi_worker":
        make(config)
        return
    if name_of(config) != "mirrored" or tf.config.list_physical_devices("GPU"):
        return
    n = config.train.get("replicas", 2)
    cpu = tf.config.list_physical_devices("CPU")[0]
    want = [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
    try:
        tf.config.set_logical_device_configuration(cpu, want)
    except RuntimeError:      # the runtime has started: the split must already be there
        have = len(tf.config.list_logical_devices("CPU"))
        if have != n:
            raise common.UserError(
                f"train.strategy='mirrored' needs train.replicas={n} logical CPUs, but "
                f"TensorFlow already runs with {have}; start a new process (python -m "
                "pipelines.train splits the CPU before anything else runs).") from None


def make(config):
    """The tf.distribute.Strategy that `train.strategy` names."""
    name = name_of(config)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        gpu = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpu else "/cpu:0")
    if name == "mirrored":
        if tf.config.list_physical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        configure_devices(config)
        return tf.distribute.MirroredStrategy(
            [d.name for d in tf.config.list_logical_devices("CPU")])
    if name == "multi_worker":
        if "multi_worker" in _MADE:
            return _MADE["multi_worker"]
        if "TF_CONFIG" not in os.environ:
            raise common.UserError(
                "train.strategy='multi_worker' reads the cluster from TF_CONFIG, which is "
                "not set; export TF_CONFIG='{\"cluster\": {\"worker\": [\"host1:port\", "
                "\"host2:port\"]}, \"task\": {\"type\": \"worker\", \"index\": 0}}' on each "
                "worker (docs/distribute.md).")
        try:
            _MADE["multi_worker"] = tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as e:
            raise common.UserError(
                f"train.strategy='multi_worker' must start with the process ({e}); run it "
                "through python -m pipelines.train, which makes the strategy first.") from None
        return _MADE["multi_worker"]
    try:                                                      # 'tpu'
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=config.train.get("tpu", ""))
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as e:
        raise common.UserError(
            f"train.strategy='tpu' found no TPU ({' '.join(str(e).split())[:200]}); set "
            "train.tpu to the TPU's name or address, or use another train.strategy.") from None
    return tf.distribute.TPUStrategy(resolver)


def _tf_config():
    """TF_CONFIG as a dict ({} when unset or empty)."""
    return json.loads(os.environ.get("TF_CONFIG", "") or "{}")


def _chief_task(task_type, task_id):
    """Whether the task (type, index) is the chief: the 'chief' task, or worker 0 of a
    cluster that has none (or no cluster at all)."""
    return task_type is None or task_type == "chief" or (
        task_type == "worker" and task_id == 0 and "chief" not in
        _tf_config().get("cluster", {}))


def is_chief(strategy):
    """True on the worker that writes checkpoints, logs, exports and pushes: every
    strategy but multi_worker has one worker; there, worker 0 (or the 'chief' task)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return True
    return _chief_task(resolver.task_type, resolver.task_id)


def distributed_batches(strategy, make_dataset, start, global_batch):
    """An iterator of per-replica batches, through `distribute_datasets_from_function`.

    Each input pipeline (one per worker) builds the task's stream of global batches
    (`make_dataset()`, element k the batch of step k), from step `start` on, cuts every
    global batch into R slices of global_batch / R rows (`Dataset.rebatch`) and keeps the
    slices of its own replicas (sharding: pipeline p of P keeps slices p R/P ... (p + 1)
    R/P - 1). Replica r of R so trains on rows [r B/R, (r + 1) B/R) of the batch a
    one-device run trains on at the same step, and a resumed run (start = the restored
    step) continues the stream where the killed one stopped."""
    replicas = strategy.num_replicas_in_sync
    if global_batch % replicas:
        raise common.UserError(
            f"train.batch_size={global_batch} does not split evenly over {replicas} "
            f"replicas; set --config.train.batch_size to a multiple of {replicas}.")
    per = global_batch // replicas

    def dataset_fn(context):
        local = replicas // context.num_input_pipelines
        pipeline = context.input_pipeline_id
        slices = make_dataset().skip(start).rebatch(per)
        if context.num_input_pipelines > 1:
            slices = slices.enumerate().filter(
                lambda k, _: (k % replicas) // local == pipeline).map(lambda _, x: x)
        return slices
    return iter(strategy.distribute_datasets_from_function(dataset_fn))


# What a collective op raises when a peer worker has died: the health check aborts the
# collectives with UnavailableError; a peer that vanishes mid-op gives the others.
PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.CancelledError,
               tf.errors.DeadlineExceededError, tf.errors.AbortedError)


def worker_checkpoints(workdir):
    """Where a worker other than the chief keeps its checkpoint copies."""
    return os.path.join(workdir, ".worker-checkpoints")


def lost_peer(workdir, error):
    """The one line of a worker whose peer died: what failed, the checkpoint a restart
    resumes from, and the restart."""
    task = _tf_config().get("task", {})
    chief = _chief_task(task.get("type"), task.get("index", 0))
    folder = os.path.join(common.stage_dir(workdir, "train") if chief
                          else worker_checkpoints(workdir), "checkpoints")
    last = tf.train.latest_checkpoint(folder) if os.path.isdir(folder) else None
    return (f"worker {task.get('index', 0)} lost a peer ({type(error).__name__}: a worker "
            f"stopped answering); the last checkpoint is {last or 'none yet'}. Restart "
            "every worker with the same command and --resume.")


def first(strategy, value):
    """A value that every replica computed alike (after an all-reduce) -> one copy."""
    return tf.nest.map_structure(lambda v: strategy.experimental_local_results(v)[0], value)
