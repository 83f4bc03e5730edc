"""In-graph generation: the whole sampling loop is one `tf.while_loop` in one tf.function.

Calling a tf.function from Python once per token costs ~220 µs on 2 cores; here a token
costs one trip round the loop body. Each sampled ŷ<t> is fed back as x<t+1>, as in
music generation and character language models.
"""

import keras
import tensorflow as tf

from rnn_tf.bidirectional import Bidirectional
from rnn_tf.heads import Head
from rnn_tf.recurrent import RNN


def _check_args(temperature, length):
    if float(temperature) < 0:
        raise ValueError(f"temperature must be >= 0 (0 means argmax); received "
                         f"{float(temperature)}.")
    if isinstance(length, bool) or int(length) != length or int(length) <= 0:
        raise ValueError(f"length must be a positive int; received length={length!r}.")


def sample_logits(logits, activation, temperature, top_k, seed):
    """Draws ŷ<t> from logits <float>[batch, C].

    softmax: <int32>[batch] class ids; temperature 0 is argmax; top_k (a Python int) > 0
      keeps only the k largest logits. sigmoid: <float>[batch, C] of 0/1, each output a Bernoulli draw;
      temperature 0 thresholds at 0.5. linear: the logits themselves.
    seed: <int32>[2], a stateless seed, so the same seed gives the same draw.
    """
    logits = tf.cast(logits, tf.float32)
    greedy = tf.equal(temperature, 0.0)
    scaled = logits / tf.where(greedy, 1.0, temperature)
    if activation == "softmax":
        if top_k:     # a Python int: a full top_k sorts the vocabulary, so only when asked
            kth = tf.math.top_k(scaled, min(top_k, scaled.shape[-1])).values[:, -1:]
            scaled = tf.where(scaled < kth, tf.constant(-1e30, scaled.dtype), scaled)
        drawn = tf.random.stateless_categorical(scaled, 1, seed, dtype=tf.int32)[:, 0]
        return tf.where(greedy, tf.argmax(logits, -1, output_type=tf.int32), drawn)
    if activation == "sigmoid":
        u = tf.random.stateless_uniform(tf.shape(scaled), seed)
        drawn = tf.cast(u < tf.sigmoid(scaled), tf.float32)
        return tf.where(greedy, tf.cast(logits > 0, tf.float32), drawn)
    return logits


class Generator(tf.Module):
    """Samples from a one-directional model built by `rnn_tf.models` (RNN layers, a Head).

    Example (a character LM):
    >>> gen = Generator(model)
    >>> ids = gen.generate(prime, length=200, temperature=0.8, top_k=0, seed=7)
    """

    def __init__(self, model, name=None):
        super().__init__(name=name)
        self.rnns = [l for l in model.layers if isinstance(l, RNN)]
        heads = [l for l in model.layers if isinstance(l, Head)]
        if any(isinstance(l, Bidirectional) for l in model.layers):
            raise ValueError("A bidirectional model reads the future, so it cannot generate "
                             "left to right. Build the model with bidirectional=False.")
        if not self.rnns or len(heads) != 1:
            raise ValueError("Generator needs a model of rnn_tf.RNN layers and one rnn_tf.Head"
                             f"; found {len(self.rnns)} RNN layers and {len(heads)} heads.")
        self.head = heads[0]
        # set by rnn_tf.models builders: layer i > 0 adds its input to its output
        self.residual = bool(getattr(model, "rnn_tf_residual", False))
        self._loops = {}
        self._prime = tf.function(self._run_prime, reduce_retracing=True)

    def _step(self, x_t, states):
        """One step through every layer. x_t: ids <int32>[B] or <float>[B, X]."""
        new_states = []
        h = x_t
        for layer, s in zip(self.rnns, states):
            out, ns = layer.cell(h, s)
            if self.residual and h.dtype.is_floating and h.shape[-1] == out.shape[-1]:
                out = out + h
            new_states.append(list(ns))
            h = out
        return self.head(h), new_states

    def _run_prime(self, prime):
        """Runs <int32>[B, P] (or float [B, P, X]) through the stack with the fast unroll;
        returns the states after it and the logits of its last step."""
        h, states = prime, []
        batch = tf.shape(prime)[0]
        for layer in self.rnns:
            zeros = [tf.zeros(tf.stack([batch, layer.units]), layer.compute_dtype)] * \
                layer._num_states
            seq, final = layer._unroll(h, zeros, None, None)
            if (self.residual and h.dtype.is_floating and h.shape.rank == 3
                    and h.shape[-1] == seq.shape[-1]):
                seq = seq + h
            states.append(list(final))
            h = seq
        return self.head(h[:, -1]), states

    def _loop(self, logits, states, length, temperature, top_k, seed, stop_id):
        """The sampling loop. `length` is a Python int, so the loop compiles with XLA into
        one kernel sequence with static shapes (a few µs per token on a CPU).

        Returns (<[length, batch, ...]> samples, padded with stop_id after a row stops,
        <int32>[] the number of steps run)."""
        activation = self.head.activation
        batch = tf.shape(logits)[0]
        out_dtype = tf.int32 if activation == "softmax" else tf.float32
        samples = tf.TensorArray(out_dtype, size=length)
        done = tf.zeros([batch], tf.bool)

        def body(t, logits, states, done, samples):
            y = sample_logits(logits, activation, temperature, top_k,
                              tf.stack([seed, t]))
            if activation == "softmax":
                y = tf.where(done, stop_id, y)
                done = tf.logical_or(done, tf.equal(y, stop_id))
            samples = samples.write(t, y)
            logits, states = self._step(y, states)                   # ŷ<t> fed back
            return t + 1, logits, states, done, samples

        def cond(t, logits, states, done, samples):
            return tf.logical_and(t < length, tf.logical_not(tf.reduce_all(done)))

        t, _, _, _, samples = tf.while_loop(
            cond, body, (tf.constant(0), logits, states, done, samples),
            maximum_iterations=length)
        return samples.stack(), t

    def _compiled_loop(self, length, top_k):
        """One XLA-compiled loop per (length, top_k), compiled on first use: XLA needs
        both as constants."""
        key = (length, top_k)
        if key not in self._loops:
            self._loops[key] = tf.function(
                lambda logits, states, temperature, seed, stop_id: self._loop(
                    logits, states, length, temperature, top_k, seed, stop_id),
                jit_compile=True, reduce_retracing=True)
        return self._loops[key]

    def _finish(self, samples, steps):
        """[length, B, ...] time-major samples -> batch-major, cut to the steps run."""
        samples = samples[:int(steps)]
        return tf.transpose(samples, [1, 0] + list(range(2, samples.shape.rank)))

    def generate(self, prime, length, temperature=1.0, top_k=0, seed=0, stop_id=-1):
        """Continues `prime` for up to `length` tokens.

        Args:
          prime: <int32>[batch, P >= 1] token ids (each row its own independent sample).
          length: int > 0, tokens to generate.
          temperature: float >= 0; 0 = argmax (greedy).
          top_k: int, 0 = no limit.
          seed: int; the same seed gives the same sample.
          stop_id: generation of a row stops after this id (-1: never).
        Returns:
          <int32>[batch, <= length] generated ids (rows that stopped are padded with
          stop_id).
        """
        _check_args(temperature, length)
        logits, states = self._prime(tf.convert_to_tensor(prime, tf.int32))
        if isinstance(top_k, bool) or int(top_k) != top_k or top_k < 0:
            raise ValueError(f"top_k must be an int >= 0 (0: no limit); received {top_k!r}.")
        samples, steps = self._compiled_loop(int(length), int(top_k))(
            logits, states, tf.constant(temperature, tf.float32), tf.constant(seed),
            tf.constant(stop_id))
        return self._finish(samples, steps)

    def generate_from(self, x0, length, temperature=1.0, seed=0):
        """One-to-many: x<1> = x0 <float>[batch, X]; each later x<t> is the sampled ŷ<t-1>
        (a multi-hot vector for a sigmoid head). Returns <float>[batch, length, C]."""
        _check_args(temperature, length)
        logits, states = self._prime(tf.convert_to_tensor(x0, tf.float32)[:, None, :])
        samples, steps = self._compiled_loop(int(length), 0)(
            logits, states, tf.constant(temperature, tf.float32), tf.constant(seed),
            tf.constant(-1))
        return self._finish(samples, steps)
