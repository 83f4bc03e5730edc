"""The one place that decides placement and fast paths.

Nothing in rnn_tf names a device: ops run wherever the caller's `tf.device` scope, or
TensorFlow's default placement (the GPU when one is visible), puts them. What this module
decides is *which implementation* of the unroll applies, once per layer, and it says why
when the fast path is off while a GPU is present.
"""

import dataclasses
import functools
import os

from absl import logging
import tensorflow as tf

from rnn_tf import cells


@functools.lru_cache(maxsize=None)
def gpu_available():
    """True when TensorFlow sees at least one GPU."""
    return bool(tf.config.list_logical_devices("GPU"))


@dataclasses.dataclass(frozen=True)
class Implementation:
    """Which unroll a layer uses. `fused`: an explicit-BPTT kernel in `bptt.py`."""
    fused: bool
    reason: str


_LOGGED = set()


def select_implementation(cell):
    """Decides, once per layer, whether a fused BPTT kernel of `bptt.py` applies to `cell`.

    The vanilla kernel stores only a<t> and needs g' written from g's output, so it covers
    the vanilla cell with tanh, relu, sigmoid or linear g; the GRU cell has its own kernel.
    Anything else (the LSTM, other activations) unrolls with `tf.while_loop` and
    TensorFlow's autodiff, which is correct but slower.
    """
    if isinstance(cell, cells.GRUCell):
        impl = Implementation(True, "GRU cell")
    elif not isinstance(cell, cells.VanillaCell):
        impl = Implementation(False, f"cell {type(cell).__name__} has no fused kernel")
    else:
        name = cells.activation_name(cell.activation)
        if name in cells.OUTPUT_DERIVATIVES:
            impl = Implementation(True, f"vanilla cell with g={name}")
        else:
            impl = Implementation(
                False, f"activation {cell.activation!r} has no output-form derivative; "
                f"the fused kernel supports {sorted(cells.OUTPUT_DERIVATIVES)}")
    if not impl.fused and gpu_available() and impl.reason not in _LOGGED:
        _LOGGED.add(impl.reason)
        logging.warning("rnn_tf: fused BPTT off on this GPU machine: %s", impl.reason)
    return impl


def compile_loops(option, time_steps, dtype=tf.float32):
    """Whether a fused kernel runs its time loops as XLA-compiled functions of their own
    (`bptt._kernel`), with the rest of the step left to TensorFlow.

    option: the layer's `jit_loops`; True or False decide. None (auto) compiles them when
      the layer is being traced into a graph (not eager), the time length is static (XLA
      compiles once per shape, so a length that changes from batch to batch would compile
      again and again), no GPU is visible (the CPU is where this was measured:
      benchmarks/train_throughput.py) and the compute dtype is not bfloat16 (XLA's CPU
      products in bfloat16 are slower than TensorFlow's oneDNN kernels: the mixed-precision
      record from before this rule, at ecd269c, has bfloat16's `long` shape at 0.16x
      float32, the one after it 0.49x; float16 and float32 run faster compiled).
    time_steps: the static time length, or None when it is only known at run time.
    dtype: the layer's compute dtype.
    """
    if option is not None:
        return bool(option)
    return (not tf.executing_eagerly() and time_steps is not None and not gpu_available()
            and tf.as_dtype(dtype) != tf.bfloat16)


def compile_gru_forward(rows, units):
    """Whether the GRU's forward loop runs compiled when its loops are (`compile_loops`).

    XLA's loop costs less per step than TensorFlow's executor, but inside a loop its
    elementwise work (the gates' sigmoid and tanh over [rows, 3 * units]) runs several
    times slower than TensorFlow's vectorized kernels. So once a piece's gates are large
    (at least 16 rows and rows * units >= 4096) the forward loop is a TensorFlow loop; the
    backward loop, which has no such functions, stays compiled. An A/B of the layer's
    training step on benchmarks/shape_sweep.py's shapes set the boundary.
    rows: the static rows of the piece (None: unknown, compiled); units: the GRU's units.
    """
    return rows is None or rows < 16 or rows * units < 4096


# A piece of the batch smaller than this loses more to its smaller products than running
# beside the other pieces gains (an A/B run on benchmarks/train_throughput.py's `long`
# shape, B=16: two pieces of 8 gained 11%, four pieces of 4 gained 3%).
MIN_SHARD_ROWS = 8


def cpu_cores():
    """The CPU cores this process may run on, capped by TensorFlow's inter-op threads."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    inter_op = tf.config.threading.get_inter_op_parallelism_threads()
    return min(cores, inter_op) if inter_op else cores


def in_xla_function():
    """True while tracing inside a caller's `jit_compile=True` function (or an XLA
    context), where XLA runs one operation at a time, so pieces would not overlap."""
    try:
        from tensorflow.python.framework import ops
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # private modules: when they move, assume the plain case
        return False
    return bool(control_flow_util.GraphOrParentsInXlaContext(ops.get_default_graph()))


def shard_sizes(option, batch, compiled):
    """The batch sizes of the independent pieces a layer unrolls side by side.

    option: the layer's `batch_shards`; an int asks for that many pieces. None (auto):
      one piece per CPU core with at least MIN_SHARD_ROWS rows each, when the loops are
      XLA-compiled functions of their own (`compiled`, see `compile_loops`: each then is
      one operation that TensorFlow's executor can run beside the others) and this is not
      inside a caller's XLA function.
    batch: the static batch size, or None (then one piece).
    Returns: a list of ints that sum to `batch`, or `[batch]`.
    """
    if batch is None or batch < 2:
        return [batch]
    if option is not None:
        n = option
    elif not compiled or tf.executing_eagerly() or in_xla_function():
        n = 1
    else:
        n = min(cpu_cores(), batch // MIN_SHARD_ROWS)
    n = max(1, min(n, batch))
    return [batch // n + (i < batch % n) for i in range(n)]
