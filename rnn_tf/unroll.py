"""The generic unroll over time: any step function, BPTT by autodiff (the cells without a
fused kernel, and the seq2seq decoder's teacher-forced pass)."""

import tensorflow as tf

from rnn_tf import bptt


def dynamic_unroll(step, input_sequence, initial_state, mask=None, state_probe=None):
    """Generic unroll: `output<t>, state<t> = step(input<t>, state<t-1>)`, autodiff BPTT.

    Args:
      step: callable (x_t, prev_state) -> (output, next_state); states are nests of
        `<float>[batch, n]` tensors.
      input_sequence: `[time, batch, ...]` tensor (time-major).
      initial_state: nest of `<float>[batch, n]`.
      mask: `<bool>[time, batch, 1]` or None. A masked step keeps the previous state.
      state_probe: `<float>[time, batch, n]` or None, added to the first state after each
        step (and the step's output is that state): with zeros nothing changes, and the
        gradient of a loss for the probe is dL/da<t> through every later step (BPTT).
    Returns:
      (output_sequence `[time, batch, n]`, final_state nest). A sequence of length 0 gives
      `[0, batch, n]` (n: the first state's width when no step was traced) and the initial
      state.
    """
    flat0 = tf.nest.flatten(initial_state)
    if input_sequence.shape[0] == 0:   # no loop (XLA cannot unstack zero steps)
        return bptt.no_steps(flat0[0], tf.shape(flat0[0])), initial_state
    T = tf.shape(input_sequence)[0]
    inputs_ta = tf.TensorArray(input_sequence.dtype, size=T,
                               infer_shape=False).unstack(input_sequence)
    probe_ta = None if state_probe is None else tf.TensorArray(
        state_probe.dtype, size=T, infer_shape=False).unstack(state_probe)
    mask_ta = None if mask is None else tf.TensorArray(
        tf.bool, size=T, infer_shape=False).unstack(mask)
    out_shape = tf.TensorShape(flat0[0].shape[:1]).concatenate([None])
    outputs_ta = tf.TensorArray(flat0[0].dtype, size=T, element_shape=out_shape)

    def body(t, flat_state, outputs_ta):
        prev_state = tf.nest.pack_sequence_as(initial_state, flat_state)
        output, next_state = step(inputs_ta.read(t), prev_state)
        flat_next = tf.nest.flatten(next_state)
        if probe_ta is not None:
            output = flat_next[0] + probe_ta.read(t)
            flat_next = [output] + flat_next[1:]
        if mask_ta is not None:
            m = mask_ta.read(t)
            flat_next = [tf.where(m, n, p) for n, p in zip(flat_next, flat_state)]
        return t + 1, flat_next, outputs_ta.write(t, output)

    _, flat_final, outputs_ta = tf.while_loop(
        lambda t, *_: t < T, body, (tf.constant(0), flat0, outputs_ta),
        maximum_iterations=T, parallel_iterations=bptt.PARALLEL_ITERATIONS)
    width = outputs_ta.element_shape[-1] if outputs_ta.element_shape.rank else None
    if width is None:          # no step traced (eager, length 0): the state's width
        width = tf.shape(flat0[0])[-1]
    outputs = bptt.stack_steps(outputs_ta, tf.stack([tf.shape(flat0[0])[0], width]))
    return outputs, tf.nest.pack_sequence_as(initial_state, flat_final)
