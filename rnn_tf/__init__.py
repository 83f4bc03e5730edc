"""rnn_tf: the lecture's recurrent neural networks as fast, verified Keras layers."""

import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from rnn_tf.cells import GRUCell, LSTMCell, VanillaCell  # noqa: E402
from rnn_tf.recurrent import RNN, dynamic_unroll  # noqa: E402
from rnn_tf.bidirectional import Bidirectional  # noqa: E402
from rnn_tf.heads import Head  # noqa: E402
from rnn_tf import convert, diagnostics, heads, models  # noqa: E402
from rnn_tf.char_embedding import CharLMEmbedding  # noqa: E402

__all__ = ["RNN", "Bidirectional", "Head", "CharLMEmbedding", "VanillaCell", "GRUCell",
           "LSTMCell", "dynamic_unroll", "convert", "diagnostics", "heads", "models"]
