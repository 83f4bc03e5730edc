"""The one place that decides placement and fast paths.

Nothing in rnn_tf names a device: ops run wherever the caller's `tf.device` scope, or
TensorFlow's default placement (the GPU when one is visible), puts them. What this module
decides is *which implementation* of the unroll applies, once per layer, and it says why
when the fast path is off while a GPU is present.
"""

import dataclasses
import functools

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
