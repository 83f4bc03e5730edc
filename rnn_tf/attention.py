"""Bahdanau's additive attention for the encoder-decoder (`rnn_tf.seq2seq`)."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="rnn_tf")
class AdditiveAttention(keras.layers.Layer):
    """Bahdanau attention: score_j = v^T tanh(W_h h_j + W_s s), weights = softmax_j.

    `prepare(memory)` computes W_h h once per sequence; `call(state, memory, keys, mask)`
    gives the context <float>[batch, memory_dim] for one decoder step, and with
    `return_weights=True` also the weights <float>[batch, Tx] (the alignment).
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, memory_dim, state_dim):
        self.W_h = self.add_weight(name="W_h", shape=(memory_dim, self.units))
        self.W_s = self.add_weight(name="W_s", shape=(state_dim, self.units))
        self.v = self.add_weight(name="v", shape=(self.units,))
        self.built = True

    def prepare(self, memory):
        """memory <float>[B, Tx, M] -> keys <float>[B, Tx, units]."""
        return tf.einsum("btm,mu->btu", memory, tf.cast(self.W_h, memory.dtype))

    def call(self, state, memory, keys, mask, return_weights=False):
        query = tf.matmul(state, tf.cast(self.W_s, state.dtype))[:, None]       # (B, 1, U)
        scores = tf.reduce_sum(tf.tanh(keys + query) * tf.cast(self.v, state.dtype), -1)
        scores = tf.where(mask, scores, tf.constant(-1e9, scores.dtype))         # (B, Tx)
        weights = tf.nn.softmax(scores, -1)
        context = tf.reduce_sum(weights[:, :, None] * memory, 1)                 # (B, M)
        return (context, weights) if return_weights else context

    def get_config(self):
        return {**super().get_config(), "units": self.units}
