"""In-graph generation: the whole sampling loop is one `tf.while_loop` in one tf.function.

Calling a tf.function from Python once per token costs ~220 µs on 2 cores; here a token
costs one trip round the loop body. Each sampled ŷ<t> is fed back as x<t+1>, as in
music generation and character language models.
"""

import tensorflow as tf

from rnn_tf.bidirectional import Bidirectional
from rnn_tf.cells import VanillaCell
from rnn_tf.heads import Head
from rnn_tf.recurrent import RNN
from rnn_tf import served_sampling


def _check_args(temperature, length):
    if float(temperature) < 0:
        raise ValueError(f"temperature must be >= 0 (0 means argmax); received "
                         f"{float(temperature)}.")
    if isinstance(length, bool) or int(length) != length or int(length) <= 0:
        raise ValueError(f"length must be a positive int; received length={length!r}.")


def _uniform(shape, seed, alg):
    """<float32>[shape] uniform in [1e-20, 1): never 0, so its logarithm is finite.

    alg: 'auto_select' (TensorFlow's default) works everywhere; 'threefry' only under XLA
    (TensorFlow's own CPU kernel rejects it), where it is cheaper than Philox in the
    generation loop (benchmarks/generation_latency.py).
    """
    return tf.random.stateless_uniform(shape, seed, minval=1e-20, maxval=1.0, alg=alg)


def draw_noise(shape, seed, alg="auto_select"):
    """Logistic noise log(u) - log(1 - u): `logits + T * noise > 0` is a
    Bernoulli(sigmoid(logits / T)) draw."""
    u = _uniform(shape, seed, alg)
    return tf.math.log(u) - tf.math.log1p(-u + 1e-20)


def draw_gumbel(shape, seed, alg="auto_select"):
    """Standard Gumbel noise -log(-log(u)) <float32>[shape], finite:
    argmax(logits + T * noise) is a draw from softmax(logits / T), and at T = 0 the
    argmax of the logits."""
    return -tf.math.log(-tf.math.log(_uniform(shape, seed, alg)))


def sample_logits(logits, activation, temperature, top_k, seed, alg="auto_select",
                  uniform=None, gumbel=None):
    """Draws ŷ<t> from logits <float>[batch, C].

    softmax: <int32>[batch] class ids. With `gumbel` (<float32>[batch, C] standard Gumbel
      noise drawn beforehand), argmax(logits + T * gumbel), the Gumbel-max draw from
      softmax(logits / T): one fused elementwise op and one reduction. Otherwise by
      inverting the CDF of softmax(logits / T) with one uniform number per row (`uniform`,
      <float32>[batch] drawn beforehand, or drawn here from `seed`). T = 0 is argmax.
      top_k (a Python int) > 0 keeps only the k largest logits.
    sigmoid: <float>[batch, C] of 0/1, each output a Bernoulli(sigmoid(logits / T)) draw:
      logits + T * logistic noise > 0, which at T = 0 thresholds at 0.5.
    linear: the logits themselves.
    seed: <int32>[2], a stateless seed, so the same seed gives the same draw.
    """
    logits = tf.cast(logits, tf.float32)
    if activation == "linear":
        return logits
    if activation == "softmax":
        if top_k:     # a full top_k sorts the vocabulary, so only when asked
            kth = tf.math.top_k(logits, min(top_k, logits.shape[-1])).values[:, -1:]
            logits = tf.where(logits < kth, tf.constant(-1e30, logits.dtype), logits)
        if gumbel is not None:
            return tf.argmax(logits + temperature * gumbel, -1, output_type=tf.int32)
        greedy = tf.equal(temperature, 0.0)
        cdf = tf.cumsum(tf.nn.softmax(logits / tf.where(greedy, 1.0, temperature)), -1)
        if uniform is None:
            uniform = tf.random.stateless_uniform(tf.shape(logits)[:1], seed, alg=alg)
        u = uniform[:, None]
        drawn = tf.reduce_sum(tf.cast(cdf < u * cdf[:, -1:], tf.int32), -1)   # (B,)
        drawn = tf.minimum(drawn, tf.shape(logits)[-1] - 1)
        return tf.where(greedy, tf.argmax(logits, -1, output_type=tf.int32), drawn)
    noise = draw_noise(tf.shape(logits), seed, alg)
    return tf.cast(logits + temperature * noise > 0, tf.float32)


# Pre-drawn Gumbel noise holds length x batch x classes floats; above this many the loop
# inverts the CDF with one pre-drawn uniform per token instead (length x batch floats).
GUMBEL_MAX_ELEMENTS = 1 << 24


def _predrawn_gumbel(length, batch, classes):
    """Whether the sampling loop pre-draws Gumbel noise: the length is a Python int (a
    length known only at run time could ask for any amount of noise) and length x batch x
    classes, with an unknown batch counted as 1, is at most GUMBEL_MAX_ELEMENTS."""
    return (isinstance(length, int)
            and length * (batch or 1) * classes <= GUMBEL_MAX_ELEMENTS)


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
        # set by LanguageModel(embedding_dim > 0): ids pass through it before the stack
        self.embedding = getattr(model, "rnn_tf_embedding", None)
        self._loops = {}
        self._prime = tf.function(self._run_prime, reduce_retracing=True)
        # The head and the top vanilla cell's next recurrence both multiply a<t>:
        # one product a<t> [W_aa | W_ya] per token instead of two.
        self._fuse_top = (isinstance(self.rnns[-1].cell, VanillaCell)
                          and not self.rnns[-1].cell.stacked and not self.residual)

    def _fused_weights(self, dtype):
        """Loop-invariant tensors, read once outside the loop: [W_aa | W_ya] transposed
        (a matrix-vector product reads its rows faster than its columns here), b_y and the
        top cell's (W_aa, W_ax, b_a)."""
        if not self._fuse_top:
            return None
        cell = self.rnns[-1].cell
        W_aa, W_ax, b_a = cell.weight_tensors(dtype)
        W_ya = tf.cast(tf.convert_to_tensor(self.head.W_ya), dtype)
        return dict(W_cat_t=tf.transpose(tf.concat([W_aa, W_ya], 1)),
                    b_y=tf.cast(self.head.b_y, dtype), W_ax=W_ax, b_a=b_a, H=W_aa.shape[0])

    def _logits_and_recurrence(self, a_top, fused):
        """Head logits <float>[B, C] of the top output a_top <float>[B, H] and, when fused,
        a<t> W_aa <float>[B, H] of the top layer (else a zero-width placeholder)."""
        if fused is None:
            return self.head(a_top), tf.zeros([tf.shape(a_top)[0], 0], a_top.dtype)
        both = tf.matmul(a_top, fused["W_cat_t"], transpose_b=True)       # (B, H + C)
        return both[:, fused["H"]:] + fused["b_y"], both[:, :fused["H"]]

    def _step(self, x_t, states, recurrence, fused):
        """One step through every layer. x_t: ids <int32>[B] or <float>[B, X]. Returns the
        top output (the head's input) and the new states."""
        new_states = []
        h = x_t if self.embedding is None else self.embedding(x_t)
        top = len(self.rnns) - 1
        for i, (layer, s) in enumerate(zip(self.rnns, states)):
            if h.dtype.is_floating:              # a float input, in a mixed policy's dtype
                h = tf.cast(h, layer.compute_dtype)
            if i == top and fused is not None:
                cell = layer.cell
                xp = cell.project_inputs(h, fused["W_ax"], fused["b_a"])
                out = cell.activation(xp + recurrence)
                ns = [out]
            else:
                out, ns = layer.cell(h, s)
            if self.residual and h.dtype.is_floating and h.shape[-1] == out.shape[-1]:
                out = out + h
            new_states.append(list(ns))
            h = out
        return h, new_states

    def zero_states(self, batch):
        """a<0> = 0: per layer, its list of <float>[batch, H] zero states."""
        return [[tf.zeros(tf.stack([batch, layer.units]), layer.compute_dtype)]
                * layer._num_states for layer in self.rnns]

    def _run_prime(self, prime):
        """Runs <int32>[B, P] (or float [B, P, X]) through the stack with the fast unroll;
        returns the top output at its last step <float>[B, H] (the head's input) and the
        states after it."""
        h, states = prime, []
        if self.embedding is not None:
            h = self.embedding(prime)
        for layer, zeros in zip(self.rnns, self.zero_states(tf.shape(prime)[0])):
            if h.dtype.is_floating:              # a float input, in a mixed policy's dtype
                h = tf.cast(h, layer.compute_dtype)
            seq, final = layer._unroll(h, zeros, None, None)
            if (self.residual and h.dtype.is_floating and h.shape.rank == 3
                    and h.shape[-1] == seq.shape[-1]):
                seq = seq + h
            states.append(list(final))
            h = seq
        return h[:, -1], states

    def _loop(self, top, states, length, temperature, top_k, seed, stop_id,
              alg="auto_select"):
        """The sampling loop from the top output `top` <float>[B, H] and `states` (as
        `_run_prime` returns them). With `length` a Python int the loop compiles with XLA
        into one kernel sequence with static shapes (a few µs per token on a CPU). Each
        trip: the head (and, fused, the top cell's recurrence: one product), the draw,
        the step fed with it.

        Returns (<[length, batch, ...]> samples, padded with stop_id after a row stops,
        <int32>[] the number of steps run)."""
        activation = self.head.activation
        batch = tf.shape(top)[0]
        out_dtype = tf.int32 if activation == "softmax" else tf.float32
        samples = tf.TensorArray(out_dtype, size=length)
        done = tf.zeros([batch], tf.bool)

        stops = activation == "softmax" and stop_id >= 0     # Python: no stop logic if not
        fused = self._fused_weights(top.dtype)
        # softmax: every token's noise drawn in one op before the loop, not one
        # random-number kernel per token inside it: Gumbel noise per class when it is
        # small enough (argmax(logits + T * noise), a few fused ops per token), else one
        # uniform per token for inverting the CDF
        uniforms = gumbels = None
        if activation == "softmax":
            shape = tf.stack([length, batch])
            classes = self.head.W_ya.shape[-1]
            if _predrawn_gumbel(length, top.shape[0], classes):
                gumbels = draw_gumbel(tf.concat([shape, [classes]], 0), tf.stack([seed, 0]),
                                      alg)
            else:
                uniforms = tf.random.stateless_uniform(shape, tf.stack([seed, 0]), alg=alg)

        def body(t, top, states, done, samples):
            logits, recurrence = self._logits_and_recurrence(top, fused)
            y = sample_logits(logits, activation, temperature, top_k, tf.stack([seed, t]),
                              alg, None if uniforms is None else uniforms[t],
                              None if gumbels is None else gumbels[t])
            if stops:
                y = tf.where(done, stop_id, y)
                done = tf.logical_or(done, tf.equal(y, stop_id))
            samples = samples.write(t, y)
            top, states = self._step(y, states, recurrence, fused)    # fed back
            return t + 1, top, states, done, samples

        def cond(t, top, states, done, samples):
            if not stops:
                return t < length
            return tf.logical_and(t < length, tf.logical_not(tf.reduce_all(done)))

        t, _, _, _, samples = tf.while_loop(
            cond, body, (tf.constant(0), top, states, done, samples),
            maximum_iterations=length)
        return samples.stack(), t

    def _compiled_loop(self, length, top_k, stop_id):
        """One XLA-compiled loop per (length, top_k, stop_id), compiled on first use: XLA
        needs length and k as constants, and a loop without a stop id skips its logic."""
        key = (length, top_k, stop_id)
        if key not in self._loops:
            self._loops[key] = tf.function(
                lambda top, states, temperature, seed: self._loop(
                    top, states, length, temperature, top_k, seed, stop_id,
                    alg="threefry"),
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
        prime = tf.convert_to_tensor(prime, tf.int32)
        if prime.shape.rank != 2 or prime.shape[1] == 0:
            raise ValueError(f"prime must be <int32>[batch, P >= 1] token ids (at least one "
                             f"token per row to start from); received shape {prime.shape}.")
        top, states = self._prime(prime)
        if isinstance(top_k, bool) or int(top_k) != top_k or top_k < 0:
            raise ValueError(f"top_k must be an int >= 0 (0: no limit); received {top_k!r}.")
        samples, steps = self._compiled_loop(int(length), int(top_k), int(stop_id))(
            top, states, tf.constant(temperature, tf.float32), tf.constant(seed))
        return self._finish(samples, steps)

    def sample(self, prime, length, temperature, seed, top_k=0, stop_id=-1):
        """The sampler for a graph: a serving signature or any `tf.function`. Unlike
        `generate`, `length`, `temperature` and `seed` may be tensors (a served request's
        inputs), so it is not XLA-compiled: it runs `rnn_tf.served_sampling`'s loop,
        several steps per trip, and draws other noise than `generate` for the same seed
        (at temperature 0 both are the argmax); a `length` below 0 fails with
        "length must be >= 0", a negative temperature counts as 0 (argmax).

        Args:
          prime: <int32>[batch, P >= 1] token ids, or <float32>[batch, P, X] inputs (a
            one-to-many model's x<1..P>).
          length: <int32>[] steps to generate.
          temperature: <float32>[]; 0 = argmax.
          seed: <int32>[]; the same seed gives the same sample.
          top_k: Python int, 0 = no limit.
          stop_id: Python int; a row stops after this id (-1: never).
        Returns:
          <int32>[batch, steps] ids (softmax head) or <float32>[batch, steps, C] samples
          (sigmoid head), steps <= length.
        """
        top, states = served_sampling.prime(self, prime)
        samples = served_sampling.sample(self, top, states, length,
                                         tf.maximum(temperature, 0.0), top_k, seed, stop_id)
        return tf.transpose(samples, [1, 0] + list(range(2, samples.shape.rank)))

    def generate_from(self, x0, length, temperature=1.0, seed=0):
        """One-to-many: x<1> = x0 <float>[batch, X]; each later x<t> is the sampled ŷ<t-1>
        (a multi-hot vector for a sigmoid head). Returns <float>[batch, length, C]."""
        _check_args(temperature, length)
        top, states = self._prime(tf.convert_to_tensor(x0, tf.float32)[:, None, :])
        samples, steps = self._compiled_loop(int(length), 0, -1)(
            top, states, tf.constant(temperature, tf.float32), tf.constant(seed))
        return self._finish(samples, steps)
