"""The sampling loop of a served graph, where the length arrives with the request.

A SavedModel's `generate` takes `length` as an input, so its loop cannot be XLA-compiled
ahead of time (XLA needs the trip count as a constant, and compiling on a loaded model's
first call would cost far more than the call). TensorFlow's executor runs the loop
instead, and there every trip pays the loop's own bookkeeping (a few control-flow ops per
loop variable) on top of the step's ops. So this loop makes UNROLL steps per trip: the
bookkeeping and the noise draw (one op for the trip's UNROLL tokens) are paid once per
UNROLL tokens, and each token costs only its step. `benchmarks/export_latency.py`
measures the result through an exported signature in a fresh process.
"""

import tensorflow as tf

from rnn_tf import bptt, sampling    # sampling imports this module: attributes at call time

UNROLL = 4       # steps per trip of the served loop (benchmarks/export_latency.py)


def _draw(logits, activation, noise, top_k):
    """ŷ<t> from logits <float32>[B, C] and `noise` (already times the temperature):
    softmax <int32>[B] argmax(logits + noise), a draw from softmax(logits / T), top_k > 0
    keeping the k largest logits; sigmoid <float32>[B, C] of 0/1; linear the logits."""
    if activation == "linear":
        return logits
    if activation == "sigmoid":
        return tf.cast(logits + noise > 0, tf.float32)
    if top_k:
        kth = tf.math.top_k(logits, min(top_k, logits.shape[-1])).values[:, -1:]
        logits = tf.where(logits < kth, tf.constant(-1e30, logits.dtype), logits)
    return tf.argmax(logits + noise, -1, output_type=tf.int32)


def _steps_run(samples, stop_id, length):
    """<int32>[] steps a loop that stops once every row has drawn stop_id runs: one past the
    first step by which every row of samples <int32>[length, B] has drawn it, else length."""
    hit = tf.cumsum(tf.cast(tf.equal(samples, stop_id), tf.int32), axis=0) > 0
    all_done = tf.reduce_all(hit, 1)                                       # (length,)
    first = tf.argmax(tf.cast(all_done, tf.int32), output_type=tf.int32)
    return tf.where(tf.reduce_any(all_done), first + 1, length)


def prime(gen, prime):
    """Runs prime <int32>[B, P >= 1] (or <float32>[B, P, X]) through the stack one step
    per trip, with the sampling loop's own step, so the served graph holds no copy of the
    layers' unroll and its gradient kernels.
    Returns the top output at the last step <float>[B, H] and the states after it."""
    batch = prime.shape[0] if prime.shape[0] is not None else tf.shape(prime)[0]
    states = gen.zero_states(batch)
    steps = tf.transpose(prime, [1, 0] + list(range(2, prime.shape.rank)))    # time major

    def body(t, top, states):
        return (t + 1,) + tuple(gen._step(tf.gather(steps, t), states, None, None))

    _, top, states = tf.while_loop(lambda t, *_: t < tf.shape(steps)[0], body,
                                   (tf.constant(0), states[-1][0], states))
    return top, states


def sample(gen, top, states, length, temperature, top_k, seed, stop_id):
    """Samples up to `length` steps from a `rnn_tf.sampling.Generator`'s primed state.

    Args:
      gen: the Generator (its layers, head and fused top-layer weights).
      top: <float>[B, H], the top layer's output at the prime's last step.
      states: per layer, a list of <float>[B, H] states after the prime.
      length: <int32>[] steps to generate; below 0 fails with "length must be >= 0".
      temperature: <float32>[] >= 0; 0 = argmax.
      top_k: Python int, 0 = no limit.
      seed: <int32>[]; trip i draws its noise from the stateless seed (seed, i).
      stop_id: Python int; a row stops after this id (-1: never).
    Returns:
      <int32>[steps, B] ids (softmax head) or <float32>[steps, B, C] (sigmoid, linear), time
      major; rows that stopped are padded with stop_id and steps <= length.
    """
    check = tf.debugging.assert_non_negative(
        length, message="length must be >= 0 (the number of steps to generate)")
    with tf.control_dependencies([check]):
        length = tf.identity(length)
    activation = gen.head.activation
    classes = gen.head.W_ya.shape[-1]
    batch = top.shape[0] if top.shape[0] is not None else tf.shape(top)[0]  # static if known
    fused = gen._fused_weights(top.dtype)
    fold_bias = fused is not None and activation == "softmax" and not top_k
    if fused is not None and len(gen.rnns) == 1 and gen.embedding is None:
        # ids feed the top layer directly: its input term is a row of W_ax + b_a
        fused = dict(fused, W_ax=fused["W_ax"] + fused["b_a"], b_a=None)
    stops = activation == "softmax" and stop_id >= 0
    trips = (length + UNROLL - 1) // UNROLL
    out_dtype = tf.int32 if activation == "softmax" else tf.float32
    element = tf.stack([UNROLL, batch]) if activation == "softmax" else \
        tf.stack([UNROLL, batch, classes])

    def trip_noise(trip):
        """UNROLL noise tensors <float32>[B, C], times the temperature (and plus b_y when
        the head's bias is folded in), drawn in one op."""
        if activation == "linear":
            return [None] * UNROLL
        draw = sampling.draw_gumbel if activation == "softmax" else sampling.draw_noise
        noise = temperature * draw(tf.stack([UNROLL, batch, classes]), tf.stack([seed, trip]))
        if fold_bias:
            noise = noise + tf.cast(fused["b_y"], noise.dtype)   # float32 in a mixed policy
        return tf.unstack(noise, UNROLL)

    def body(trip, top, states, done, samples):
        ys = []
        for noise in trip_noise(trip):
            if fold_bias:                      # a<t> [W_aa | W_ya]: recurrence and scores
                both = tf.matmul(top, fused["W_cat_t"], transpose_b=True)
                recurrence, scores = tf.split(both, [fused["H"], classes], 1)
                y = tf.argmax(tf.cast(scores, noise.dtype) + noise, -1,
                              output_type=tf.int32)
            else:
                logits, recurrence = gen._logits_and_recurrence(top, fused)
                y = _draw(tf.cast(logits, tf.float32), activation, noise, top_k)
            if stops:
                y = tf.where(done, stop_id, y)
                done = tf.logical_or(done, tf.equal(y, stop_id))
            ys.append(y)
            top, states = gen._step(y, states, recurrence, fused)    # fed back
        return trip + 1, top, states, done, samples.write(trip, tf.stack(ys))

    def cond(trip, top, states, done, samples):
        if not stops:
            return trip < trips
        return tf.logical_and(trip < trips, tf.logical_not(tf.reduce_all(done)))

    _, _, _, _, samples = tf.while_loop(
        cond, body, (tf.constant(0), top, states, tf.zeros([batch], tf.bool),
                     # with a stop id the loop may end early: the array holds the trips run
                     tf.TensorArray(out_dtype, size=0 if stops else trips,
                                    dynamic_size=stops)),
        maximum_iterations=trips)
    blocks = bptt.stack_steps(samples, element)                  # (trips, UNROLL, B, ...)
    flat = tf.reshape(blocks, tf.concat([[-1], tf.shape(blocks)[2:]], 0))
    if stops:      # the trips after every row stopped did not run
        flat = tf.concat([flat, tf.fill(tf.concat([[length], [batch]], 0), stop_id)], 0)
        flat = flat[:length]
        return flat[:_steps_run(flat, stop_id, length)]
    return flat[:length]

