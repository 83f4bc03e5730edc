"""rnn_tf: the lecture's recurrent neural networks as fast, verified Keras layers."""

import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from rnn_tf.cells import VanillaCell  # noqa: E402
from rnn_tf.recurrent import RNN, dynamic_unroll  # noqa: E402
from rnn_tf import convert  # noqa: E402

__all__ = ["RNN", "VanillaCell", "dynamic_unroll", "convert"]
