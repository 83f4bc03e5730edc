"""TensorFlow's start-up, without its start-up noise.

TensorFlow's C++ runtime prints while it loads, before `TF_CPP_MIN_LOG_LEVEL` is read
(absl logging is not initialised yet): that CUDA drivers are missing, once per library
that looks, which CPU instructions the binary could use, and, on a machine without a GPU,
a `failed call to cuInit` error. On some CPUs oneDNN also says once, at its first int32
op in a graph, that it leaves int32 to Eigen. `import_tensorflow()` sets the log level
first (2: errors only, unless the user set it), then imports TensorFlow, lists its
devices with file descriptor 2 sent to a temporary file, and prints back every line that
is not one of those known start-up lines; `run_first_op()`, once the devices are
configured, does the same around one int32 graph op. Anything else TensorFlow says, and
every error after start-up, is printed as usual.
"""

import contextlib
import os
import re
import sys
import tempfile

# Lines of a normal start-up (no GPU, or a GPU that works).
_STARTUP = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called"
    r"|cudart_stub\.cc.*Could not find cuda drivers"
    r"|cpu_feature_guard\.cc"
    r"|^To enable the following instructions"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered"
    r"|oneDNN custom operations are on"
    r"|oneDNN supports DT_INT32 only on platforms with")
# On a machine without CUDA drivers, cuInit fails by design: not an error worth a line.
_NO_DRIVER_CUINIT = re.compile(r"cuda_(platform|executor|diagnostics)\.cc.*cuInit")


def startup_lines_to_keep(text):
    """The lines of `text` (what TensorFlow printed while loading) that are not start-up
    noise, in order. `text`: str; returns list[str]."""
    no_driver = "Could not find cuda drivers" in text
    return [line for line in text.splitlines()
            if line.strip() and not _STARTUP.search(line)
            and not (no_driver and _NO_DRIVER_CUINIT.search(line))]


def import_tensorflow():
    """Imports TensorFlow quietly (see the module docstring) and returns the module."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" not in sys.modules:
        with _quietly():
            import tensorflow as tf
            tf.config.list_physical_devices()
    return sys.modules["tensorflow"]


def run_first_op():
    """Runs one int32 graph op quietly: oneDNN's one-time notice about int32 comes at the
    first such op. Call it after the devices are configured
    (`distribute.configure_devices`): an op starts TensorFlow's runtime, after which
    logical devices and collective ops can no longer be set."""
    tf = sys.modules["tensorflow"]
    with _quietly():
        tf.function(tf.transpose)(tf.zeros([2, 3], tf.int32))   # not 1 x 1: folded away


@contextlib.contextmanager
def _quietly():
    """File descriptor 2 sent to a temporary file for the block; then every line that is
    not start-up noise printed back (every line, if the block raised)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            _restore(saved, captured, keep_all=True)
            raise
        _restore(saved, captured, keep_all=False)


def _restore(saved, captured, keep_all):
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)
    captured.seek(0)
    text = captured.read().decode("utf-8", "replace")
    lines = text.splitlines() if keep_all else startup_lines_to_keep(text)
    for line in lines:
        print(line, file=sys.stderr)
    sys.stderr.flush()
