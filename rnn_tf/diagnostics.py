"""How far back the gradient reaches: dL/da<t> as BPTT carries it.

The gradient of a loss for a layer's *output* tensor a<t> holds only the local term
dL<t>/da<t> (through the head at step t): the recurrent path through a<t+1>, a<t+2>, ...
is inside the layer's loop and never passes through that tensor. The gradient for a zero
`state_probe` added to a<t> inside the loop (`rnn_tf.RNN(...)(x, state_probe=...)`) is the
whole of it, dL/da<t> = dL<t>/da<t> + (dL/da<t+1>) (da<t+1>/da<t>), which is what BPTT
carries back. `state_gradient_norms` computes two views of it:

- `total[t]` = ||dL/da<t>|| with L = sum_t L<t>, the lecture's loss summed over time;
- `lag[k]` = ||dL<T>/da<T-k>|| for k = 0 .. T-1: the loss of the last (valid) step only,
  differentiated back through the recurrence. Its fall with k is the vanishing (or
  exploding) gradient, and `reach(lag)` is the lag at which it falls below 1e-3 of its
  value at k = 0.

Norms are per example (rows never interact, so the gradient of the batch's summed loss
for row b's state is row b's own) and averaged over the batch.

A layer inside a model that does not pass `state_probe` on (a functional Keras model) is
probed with `probing(layer, probe)`: within the block, the layer's calls add `probe`.
"""

import contextlib

import numpy as np
import tensorflow as tf

_PROBES = {}          # id(rnn_tf.RNN) -> the probe its calls add, inside `probing`


@contextlib.contextmanager
def probing(layer, probe):
    """Within the block, calls of `layer` (an `rnn_tf.RNN`, or an `rnn_tf.Bidirectional`
    whose forward layer is meant) add `probe` <float>[batch, time, units] to its states,
    as its `state_probe` argument would; for an `EncoderDecoder`'s `decoder_cell`, its
    teacher-forced pass adds it to the decoder's states. Trace the model's call inside
    the block."""
    layer = recurrent_layer(layer)
    _PROBES[id(layer)] = probe
    try:
        yield layer
    finally:
        _PROBES.pop(id(layer), None)


def active_probe(layer):
    """The probe `probing` set for `layer`, or None (read by `rnn_tf.RNN.call`)."""
    return _PROBES.get(id(layer))


def recurrent_layer(layer):
    """The `rnn_tf.RNN` whose states a view of `layer` reads: the layer itself, or a
    Bidirectional's forward layer."""
    return getattr(layer, "forward_layer", layer)


def state_gradient_norms(per_step_loss, shape, lengths=None):
    """The BPTT gradient for a<t>, as two norms per step.

    Args:
      per_step_loss: callable(probe <float32>[batch, time, units]) -> <float32>[batch,
        time], each step's loss L<t> (0 at padded steps), or <float32>[batch], one loss
        per example (many-to-one, or a loss read elsewhere, as a decoder's for an
        encoder), of a forward pass that adds `probe` to the states of the layer in
        question (its `state_probe`, or `probing`). A per-example loss is both L and the
        "last step's" loss.
      shape: (batch, time, units) of that layer's states.
      lengths: <int32>[batch] valid lengths, or None (every step valid); the "last step"
        of a row is its last valid one, and its lags count back from there.
    Returns:
      (total <float32>[time], lag <float32>[time]) as in the module docstring; lag[k] for
      a k beyond a row's length counts that row as 0.
    """
    batch, time, units = shape
    probe = tf.zeros([batch, time, units])
    last = (tf.fill([batch], time) if lengths is None else tf.cast(lengths, tf.int32)) - 1
    with tf.GradientTape() as tape:
        tape.watch(probe)
        losses = per_step_loss(probe)
        total_loss = tf.reduce_sum(losses)
    by_step = tf.norm(tape.gradient(total_loss, probe), axis=-1)          # [batch, time]
    total = tf.reduce_mean(by_step, axis=0)
    if losses.shape.rank != 1:           # the last step's loss alone: a second pass
        # two tapes, not one persistent tape: a persistent tape cannot differentiate the
        # layers' XLA-compiled loops (other layers of the model keep theirs)
        with tf.GradientTape() as tape:
            tape.watch(probe)
            last_loss = tf.reduce_sum(
                tf.gather(per_step_loss(probe), tf.maximum(last, 0), batch_dims=1))
        by_step = tf.norm(tape.gradient(last_loss, probe), axis=-1)
    # row b's lag k is its step last_b - k: shift each row so its last step is column 0
    steps = last[:, None] - tf.range(time)[None, :]
    lag = tf.where(steps >= 0, tf.gather(by_step, tf.maximum(steps, 0), batch_dims=1), 0.0)
    return total, tf.reduce_mean(lag, axis=0)


def reach(lag, ratio=1e-3):
    """The first lag k at which `lag[k]` < ratio * lag[0] (an int); len(lag) when the
    gradient never falls that far within the window, 0 when lag[0] is 0."""
    lag = np.asarray(lag, np.float64)
    if lag.size == 0 or not lag[0] > 0:
        return 0
    below = np.nonzero(lag < ratio * lag[0])[0]
    return int(below[0]) if below.size else int(lag.size)
