"""The output head `ŷ<t> = g(W_ya a<t> + b_y)`, the per-step losses and the metrics.

The head returns *logits* `z<t> = a<t> W_ya + b_y` (batch-major, W_ya <float32>[units,
outputs]); `Head.activate` applies g. Losses take logits, so they stay stable: log-softmax
and log-sigmoid never take the log of a rounded 0.

Reductions (the caller chooses, and the name says what is returned):
  'sum_over_time'  : L = Σ_t L<t> per example (the lecture's loss), then mean over batch.
  'mean_per_token' : Σ over valid steps of L<t>, divided by the number of valid steps.
Padded steps (mask False) contribute nothing under either.
"""

import math

import keras
import tensorflow as tf

from rnn_tf.cells import check_positive_int

OUTPUT_ACTIVATIONS = ("softmax", "sigmoid", "linear")
REDUCTIONS = ("sum_over_time", "mean_per_token")


@keras.saving.register_keras_serializable(package="rnn_tf")
class Head(keras.layers.Layer):
    """`ŷ<t> = g(W_ya a<t> + b_y)` applied at every step; returns the logits.

    Args:
      outputs: int > 0, size of ŷ<t> (classes, or independent 0/1 outputs).
      activation: g: 'softmax' (one of many classes), 'sigmoid' (several independent 0/1
        outputs, e.g. a piano roll) or 'linear'.

    Call arguments:
      a: <float>[batch, time, units] or <float>[batch, units].
    Returns:
      logits <float>[batch, time, outputs] (or [batch, outputs]); `activate(logits)` = ŷ.
    """

    def __init__(self, outputs, activation="softmax", kernel_initializer="glorot_uniform",
                 **kwargs):
        super().__init__(**kwargs)
        check_positive_int("outputs", outputs)
        if activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(f"Head activation must be one of {OUTPUT_ACTIVATIONS}; received "
                             f"{activation!r}.")
        self.outputs = outputs
        self.activation = activation
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True     # per-step outputs keep the input's padding mask

    def build(self, input_shape):
        self.W_ya = self.add_weight(name="W_ya", shape=(input_shape[-1], self.outputs),
                                    initializer=self.kernel_initializer)
        self.b_y = self.add_weight(name="b_y", shape=(self.outputs,), initializer="zeros")
        self.built = True

    def call(self, a):
        W_ya = tf.cast(tf.convert_to_tensor(self.W_ya), a.dtype)
        b_y = tf.cast(tf.convert_to_tensor(self.b_y), a.dtype)
        return tf.tensordot(a, W_ya, [[a.shape.rank - 1], [0]]) + b_y

    def activate(self, logits):
        """ŷ = g(logits)."""
        return {"softmax": tf.nn.softmax, "sigmoid": tf.sigmoid,
                "linear": tf.identity}[self.activation](logits)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.outputs,)

    def get_config(self):
        return {**super().get_config(), "outputs": self.outputs,
                "activation": self.activation,
                "kernel_initializer": keras.saving.serialize_keras_object(
                    self.kernel_initializer)}


def _reduce(per_step, mask, reduction):
    """per_step <float>[batch, time] -> scalar, masked."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}; received {reduction!r}.")
    m = tf.ones_like(per_step) if mask is None else tf.cast(mask, per_step.dtype)
    total = tf.reduce_sum(per_step * m, axis=-1)                      # L = Σ_t L<t>, (B,)
    if reduction == "sum_over_time":
        return tf.reduce_mean(total)
    return tf.reduce_sum(total) / tf.maximum(tf.reduce_sum(m), 1.0)


def lecture_loss(labels, logits, mask=None, reduction="sum_over_time"):
    """The lecture's loss for sigmoid outputs, from logits:

        L<t> = Σ_k [ -y_k log ŷ_k - (1 - y_k) log(1 - ŷ_k) ],   ŷ = sigmoid(logits)
        L    = Σ_t L<t>

    Args:
      labels: <float>[batch, time, outputs] of 0/1 (or probabilities).
      logits: <float>[batch, time, outputs].
      mask: <bool>[batch, time] or None.
    """
    labels = tf.cast(labels, logits.dtype)
    per_step = tf.reduce_sum(
        tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits), -1)
    return _reduce(per_step, mask, reduction)


def softmax_loss(labels, logits, mask=None, reduction="mean_per_token"):
    """Softmax cross-entropy `L<t> = -log ŷ<t>[y<t>]`, from logits.

    Args:
      labels: <int32>[batch, time] class ids.
      logits: <float>[batch, time, classes].
      mask: <bool>[batch, time] or None.
    """
    per_step = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(labels, tf.int32), logits=logits)
    return _reduce(per_step, mask, reduction)


def token_accuracy(labels, logits, mask=None):
    """Fraction of valid steps whose argmax equals the label. labels <int32>[B, T]."""
    correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32),
                               tf.cast(labels, tf.int32)), tf.float32)
    return _reduce(correct, mask, "mean_per_token")


def nats_per_token(labels, logits, mask=None):
    """Mean softmax cross-entropy over valid steps, in nats."""
    return softmax_loss(labels, logits, mask, "mean_per_token")


def bits_per_char(labels, logits, mask=None):
    """nats/token divided by ln 2."""
    return nats_per_token(labels, logits, mask) / math.log(2.0)


def perplexity(labels, logits, mask=None):
    """exp(nats/token)."""
    return tf.exp(nats_per_token(labels, logits, mask))


def exact_match(labels, predictions, mask=None):
    """Fraction of sequences whose every valid step is right.

    Args:
      labels, predictions: <int32>[batch, time]; mask <bool>[batch, time] or None.
    """
    wrong = tf.not_equal(tf.cast(labels, tf.int32), tf.cast(predictions, tf.int32))
    if mask is not None:
        wrong = tf.logical_and(wrong, tf.cast(mask, tf.bool))
    return tf.reduce_mean(tf.cast(tf.logical_not(tf.reduce_any(wrong, -1)), tf.float32))
