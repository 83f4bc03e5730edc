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
      Under a mixed policy (mixed_bfloat16, mixed_float16) the product runs in the compute
      dtype and the logits come out float32, Keras's rule for a model's outputs, so the
      softmax, the loss and a SavedModel's outputs are float32.
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
        logits = tf.tensordot(a, W_ya, [[a.shape.rank - 1], [0]]) + b_y
        return tf.cast(logits, tf.float32) if logits.dtype in (tf.bfloat16, tf.float16) \
            else logits

    def activate(self, logits):
        """ŷ = g(logits)."""
        return {"softmax": tf.nn.softmax, "sigmoid": tf.sigmoid,
                "linear": tf.identity}[self.activation](logits)

    def fused_softmax_loss(self, labels, a, mask=None, reduction="mean_per_token",
                           chunk_rows=None):
        """`softmax_loss(labels, self(a), mask, reduction)`, fused (see `fused_softmax_loss`).

        For training with many classes: the [batch, time, outputs] logits are never stored.
        Builds the head on first use. a: <float>[batch, time, units] (or [batch, units]).
        """
        if self.activation != "softmax":
            raise ValueError(f"fused_softmax_loss needs a softmax head; this head's activation "
                             f"is {self.activation!r}.")
        if not self.built:
            self.build(a.shape)
        return fused_softmax_loss(labels, a, self.W_ya, self.b_y, mask, reduction, chunk_rows)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.outputs,)

    def get_config(self):
        return {**super().get_config(), "outputs": self.outputs,
                "activation": self.activation,
                "kernel_initializer": keras.saving.serialize_keras_object(
                    self.kernel_initializer)}


def _mask_weights(mask, shape, dtype, reduction):
    """The mask as <dtype>[shape] 0/1 weights (all ones without a mask), after checking
    the reduction's name; shared by `reduce_per_step` and `fused_softmax_loss`."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}; received {reduction!r}.")
    return tf.ones(shape, dtype) if mask is None else tf.cast(mask, dtype)


def reduce_per_step(per_step, mask, reduction):
    """The lecture's per-step losses <float>[batch, time] -> a scalar: with
    reduction='sum_over_time', L = Σ_t L<t> over each example's valid steps (`mask`
    <bool>[batch, time] or None), averaged over the batch; with 'mean_per_token', the
    mean over all valid steps."""
    m = _mask_weights(mask, tf.shape(per_step), per_step.dtype, reduction)
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
    return reduce_per_step(per_step, mask, reduction)


def softmax_loss(labels, logits, mask=None, reduction="mean_per_token"):
    """Softmax cross-entropy `L<t> = -log ŷ<t>[y<t>]`, from logits.

    Args:
      labels: <int32>[batch, time] class ids.
      logits: <float>[batch, time, classes].
      mask: <bool>[batch, time] or None.
    """
    per_step = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(labels, tf.int32), logits=logits)
    return reduce_per_step(per_step, mask, reduction)


def fused_softmax_loss(labels, a, kernel, bias, mask=None, reduction="mean_per_token",
                       chunk_rows=None):
    """`softmax_loss(labels, a @ kernel + bias, mask, reduction)` without the [N, C] logits.

    The loss is a weighted sum of per-row losses, so its gradients are known in the forward
    pass: the head's product, TensorFlow's fused softmax cross-entropy kernel (loss and
    d(logits) at once) and the two gradient products run together, and the custom
    gradient only scales their results by the incoming scalar. The same three products as
    the unfused head, no recompute, and nothing else passes over the [N, C] logits. With
    many classes that matters: at the lecture's 10,000-word softmax (B=32, T=50, H=100)
    the unfused head and its Adam update took 48 ms of a 51 ms XLA training step on a
    2-core CPU, where its three products alone need about 32 ms. `chunk_rows` does
    this a chunk of rows at a time (a `tf.while_loop`, XLA-compatible) to bound the memory;
    the default, all rows at once, was the fastest on a 2-core CPU. Gradients flow to `a`,
    `kernel` and `bias`; not to labels or mask.

    Args:
      labels: <int32>[...] class ids in [0, classes) (e.g. [batch, time]).
      a: <float>[..., units] hidden states (labels' shape + units).
      kernel: <float>[units, classes] (W_ya); bias: <float>[classes] (b_y).
      mask: <bool>[...] or None; masked rows contribute nothing.
      reduction: as `softmax_loss`: 'mean_per_token' or 'sum_over_time'.
      chunk_rows: int > 0, rows per chunk, or None: all rows at once.
    Returns:
      <float32> scalar, equal to `softmax_loss` of the unfused logits.
    """
    if chunk_rows is not None:
        check_positive_int("chunk_rows", chunk_rows, " (or None for all rows at once)")
    a = tf.convert_to_tensor(a)
    kernel = tf.cast(tf.convert_to_tensor(kernel), a.dtype)
    bias = tf.cast(tf.convert_to_tensor(bias), a.dtype)
    labels = tf.cast(labels, tf.int32)
    if a.shape.rank is not None and labels.shape.rank is not None and (
            a.shape.rank != labels.shape.rank + 1):
        raise ValueError(f"fused_softmax_loss: `a` must have the labels' shape plus a units "
                         f"axis; received a {a.shape} and labels {labels.shape}.")
    if kernel.shape.rank != 2 or bias.shape.rank != 1:
        raise ValueError(f"fused_softmax_loss: kernel must be [units, classes] and bias "
                         f"[classes]; received {kernel.shape} and {bias.shape}.")
    m = _mask_weights(mask, tf.shape(labels), tf.float32, reduction)
    if reduction == "sum_over_time":      # Σ over the last axis, mean over the others
        w = m * (tf.cast(tf.shape(labels)[-1], tf.float32) / tf.cast(tf.size(labels),
                                                                      tf.float32))
    else:
        w = m / tf.maximum(tf.reduce_sum(m), 1.0)
    units = kernel.shape[0] if kernel.shape[0] is not None else tf.shape(kernel)[0]
    loss = _fused_softmax_xent(tf.reshape(a, [-1, units]), kernel, bias,
                               tf.reshape(labels, [-1]), tf.reshape(w, [-1]), chunk_rows)
    return loss


def _fused_softmax_xent(a, kernel, bias, labels, weights, chunk_rows):
    """Σ_i weights_i · CE(a_i kernel + bias, labels_i); a <float>[N, H] -> float32 scalar.

    The bias rides in the products as a last row of the kernel against a column of ones,
    and the row weights scale `a` (H columns) instead of d(logits) (C columns), so the
    [rows, C] logits are touched by the product that writes them, the softmax kernel that
    turns them into d(logits), and the two products that read d(logits); nothing else.
    """
    n_static = a.shape[0]
    n = tf.shape(a)[0]
    if chunk_rows is None or (n_static is not None and chunk_rows >= n_static):
        rows, chunks = n, 1
    elif n_static is None:
        rows, chunks = chunk_rows, (n + chunk_rows - 1) // chunk_rows
    else:
        rows, chunks = chunk_rows, -(-n_static // chunk_rows)
    pad = chunks * rows - n
    # Padding rows get weight 0 and label 0: they add nothing to the loss or the gradients.
    y_p = tf.pad(labels, [[0, pad]])
    w_p = tf.pad(weights, [[0, pad]])
    units = kernel.shape[0] if kernel.shape[0] is not None else tf.shape(kernel)[0]

    @tf.custom_gradient
    def loss_fn(a, kernel, bias):
        a1 = tf.pad(tf.concat([a, tf.ones([n, 1], a.dtype)], 1), [[0, pad], [0, 0]])
        kernel1 = tf.concat([kernel, bias[None, :]], 0)                    # [H+1, C]

        def chunk(a_c, y_c, w_c):
            z = tf.cast(tf.matmul(a_c, kernel1), tf.float32)
            # One kernel gives the per-row loss and d(loss)/d(logits) = softmax - onehot.
            ce, dz = tf.raw_ops.SparseSoftmaxCrossEntropyWithLogits(features=z, labels=y_c)
            dz = tf.cast(dz, a_c.dtype)
            w_a = tf.cast(w_c, a_c.dtype)[:, None]
            d_kernel1 = tf.matmul(a_c * w_a, dz, transpose_a=True)            # [H+1, C]
            d_a = tf.matmul(dz, kernel, transpose_b=True) * w_a                # [rows, H]
            return tf.reduce_sum(ce * w_c), d_kernel1, d_a

        if isinstance(chunks, int) and chunks == 1:
            total, d_kernel1, d_a = chunk(a1, y_p, w_p)
        else:
            def body(i, total, d_kernel1, d_a_chunks):
                start = i * rows
                l, dk, da = chunk(tf.slice(a1, [start, 0], [rows, units + 1]),
                                  tf.slice(y_p, [start], [rows]),
                                  tf.slice(w_p, [start], [rows]))
                return i + 1, total + l, d_kernel1 + dk, d_a_chunks.write(i, da)

            d_a = tf.TensorArray(a.dtype, size=chunks, element_shape=[rows, kernel.shape[0]])
            _, total, d_kernel1, d_a = tf.while_loop(
                lambda i, *_: i < chunks, body,
                (tf.constant(0), tf.constant(0.0), tf.zeros_like(kernel1), d_a),
                maximum_iterations=chunks)
            d_a = tf.reshape(d_a.stack(), [-1, units])
        d_a = d_a[:n]

        def grad(g):
            g = tf.cast(g, a.dtype)
            return g * d_a, g * d_kernel1[:-1], g * d_kernel1[-1]
        return total, grad

    return loss_fn(a, kernel, bias)


def token_accuracy(labels, logits, mask=None):
    """Fraction of valid steps whose argmax equals the label. labels <int32>[B, T]."""
    correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32),
                               tf.cast(labels, tf.int32)), tf.float32)
    return reduce_per_step(correct, mask, "mean_per_token")


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
