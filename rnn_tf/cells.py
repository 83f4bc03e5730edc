"""One step of each recurrent cell. A cell never loops: `rnn_tf.RNN` owns time.

The vanilla cell is the lecture's RNN:

    a<0> = 0
    a<t> = g(W_aa a<t-1> + W_ax x<t> + b_a)

Weights are stored in batch-major (row-vector) orientation, the layout of
`keras.layers.SimpleRNN`: a batch of states is a matrix of rows, so the step is
`a<t> = g(a<t-1> @ W_aa + x<t> @ W_ax + b_a)` with

    W_aa  <float32>[units, units]       (the lecture's W_aa, transposed)
    W_ax  <float32>[input_dim, units]   (the lecture's W_ax, transposed)
    b_a   <float32>[units]

Storing W_ax as [input_dim, units] is what makes a one-hot input a *row* lookup:
`one_hot(id) @ W_ax == W_ax[id]`.
"""

import keras
import tensorflow as tf

# Activations whose derivative can be written from the activation's *output* a = g(z).
# The fused BPTT kernel stores only a<t>, so these are the ones it can differentiate.
# name -> (g, g'(z) expressed through a = g(z))
OUTPUT_DERIVATIVES = {
    "tanh": lambda a: 1.0 - a * a,
    "relu": lambda a: tf.cast(a > 0, a.dtype),
    "sigmoid": lambda a: a * (1.0 - a),
    "linear": lambda a: tf.ones_like(a),
}


def activation_name(activation):
    """Canonical name of a Keras activation, or None when it is not a named built-in."""
    if activation is None:
        return "linear"
    if isinstance(activation, str):
        return activation
    name = getattr(activation, "__name__", None)
    return name if name in OUTPUT_DERIVATIVES else None


def check_positive_int(name, value, hint=""):
    """ValueError naming `name` unless `value` is an int > 0 (bools are not ints here)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int{hint}; received {name}={value!r}.")


def _get_activation(activation, what):
    try:
        return keras.activations.get(activation)
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"Unknown {what} {activation!r}. Use a Keras activation name such as 'tanh' "
            f"(default) or 'relu', or a callable. ({e})") from None


@keras.saving.register_keras_serializable(package="rnn_tf")
class VanillaCell(keras.layers.Layer):
    """The lecture's RNN cell: one step `a<t> = g(a<t-1> W_aa + x<t> W_ax + b_a)`.

    It follows the Keras cell contract, so `keras.layers.RNN(VanillaCell(8))` also works,
    and adds the pieces `rnn_tf.RNN` uses to unroll it fast: `project_inputs` (the input
    term for all steps at once) and `step` (the recurrence given that term).

    Args:
      units: int > 0, size of the state a<t>.
      activation: g. 'tanh' (default), 'relu' or any Keras activation.
      use_bias: whether to add b_a.
      input_dim: the size of x<t>. Needed for integer token-id inputs, where it is the
        vocabulary size V and `x<t> W_ax` is the row `W_ax[id]` (a gather), identical to
        the one-hot product and V times cheaper. For float inputs it may be left None
        (read from the input) or must match the last axis.
      stacked: compute `[a<t-1>; x<t>] @ W_a` with `W_a = [W_aa ; W_ax]` as one matrix
        product per step (the lecture's stacked notation) instead of hoisting the input
        product out of the loop. Same numbers; mainly for teaching and checking.
      kernel_initializer, recurrent_initializer, bias_initializer: for W_ax, W_aa, b_a.
        Defaults: glorot_uniform, orthogonal, zeros.
      kernel_regularizer, recurrent_regularizer, bias_regularizer,
      kernel_constraint, recurrent_constraint, bias_constraint: as in Keras.

    Call arguments (Keras cell contract):
      inputs: <float>[batch, features] or <int32>[batch] ids (with `input_dim`).
      states: list of one <float>[batch, units] tensor, a<t-1>.

    Returns:
      (a<t>, [a<t>]): <float>[batch, units] output and new state.

    Example:
    >>> cell = VanillaCell(4)
    >>> y, [a] = cell(tf.ones([2, 3]), [tf.zeros([2, 4])])
    >>> y.shape
    TensorShape([2, 4])
    """

    def __init__(self, units, activation="tanh", use_bias=True, input_dim=None,
                 stacked=False,
                 kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal",
                 bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        check_positive_int("units", units, " (the size of a<t>, e.g. 128)")
        if input_dim is not None and (isinstance(input_dim, bool)
                                      or not isinstance(input_dim, int) or input_dim <= 0):
            raise ValueError(
                f"input_dim must be a positive int (the vocabulary size for token-id "
                f"inputs) or None; received input_dim={input_dim!r}.")
        self.units = units
        self.activation = _get_activation(activation, "activation")
        self.use_bias = bool(use_bias)
        self.input_dim = input_dim
        self.stacked = bool(stacked)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        feature_dim = self.input_dim if self.input_dim is not None else input_shape[-1]
        if feature_dim is None:
            raise ValueError(
                f"The last axis of the input (features) must be known to build the cell; "
                f"received input shape {tuple(input_shape)}. Give the input a static "
                "feature size, e.g. keras.Input((None, 65)).")
        self.W_ax = self.add_weight(
            name="W_ax", shape=(feature_dim, self.units),
            initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint)
        self.W_aa = self.add_weight(
            name="W_aa", shape=(self.units, self.units),
            initializer=self.recurrent_initializer, regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint)
        if self.use_bias:
            self.b_a = self.add_weight(
                name="b_a", shape=(self.units,), initializer=self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        else:
            self.b_a = None
        self.built = True

    # ----------------------------------------------------------------- weights as tensors
    def weight_tensors(self, dtype):
        """(W_aa, W_ax, b_a) read once and cast to the compute dtype (b_a may be None)."""
        cast = lambda v: None if v is None else tf.cast(tf.convert_to_tensor(v), dtype)
        return cast(self.W_aa), cast(self.W_ax), cast(self.b_a)

    # ----------------------------------------------------------------- the pieces
    def project_inputs(self, input_sequence, W_ax, b_a):
        """The input term `x<t> W_ax + b_a` for every step at once.

        Args:
          input_sequence: <float>[..., features] or <int32>[...] ids.
        Returns:
          <float>[..., units].
        """
        if input_sequence.dtype.is_integer:
            # gather instead of one-hot matmul: identical result, V times less work
            xp = tf.gather(W_ax, input_sequence)
        else:
            flat = tf.reshape(input_sequence, [-1, tf.shape(input_sequence)[-1]])
            xp = tf.reshape(tf.matmul(flat, W_ax),
                            tf.concat([tf.shape(input_sequence)[:-1], [self.units]], 0))
        return xp if b_a is None else xp + b_a

    def step(self, projected_input, prev_state, W_aa):
        """One step from the projected input: `a<t> = g(a<t-1> W_aa + xp<t>)`.

        Args:
          projected_input: <float>[batch, units], `x<t> W_ax + b_a`.
          prev_state: <float>[batch, units], a<t-1>.
        Returns:
          next_state: <float>[batch, units], a<t>.
        """
        return self.activation(tf.matmul(prev_state, W_aa) + projected_input)

    def stacked_step(self, x_t, prev_state, W_a, b_a):
        """One step in the stacked form `a<t> = g([a<t-1>; x<t>] W_a + b_a)`."""
        z = tf.matmul(tf.concat([prev_state, x_t], axis=-1), W_a)   # (B, H)
        return self.activation(z if b_a is None else z + b_a)

    def get_initial_state(self, batch_size=None):
        """a<0> = 0: <float>[batch, units]."""
        return [tf.zeros([batch_size, self.units], self.compute_dtype)]

    def call(self, inputs, states, training=None):
        prev_state = states[0] if isinstance(states, (list, tuple)) else states
        W_aa, W_ax, b_a = self.weight_tensors(prev_state.dtype)
        if self.stacked and not inputs.dtype.is_integer:
            W_a = tf.concat([W_aa, W_ax], axis=0)                     # (H + X, H)
            next_state = self.stacked_step(inputs, prev_state, W_a, b_a)
        else:
            next_state = self.step(self.project_inputs(inputs, W_ax, b_a), prev_state, W_aa)
        return next_state, [next_state]

    def get_config(self):
        s = keras.saving.serialize_keras_object
        config = {
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "input_dim": self.input_dim,
            "stacked": self.stacked,
            "kernel_initializer": s(self.kernel_initializer),
            "recurrent_initializer": s(self.recurrent_initializer),
            "bias_initializer": s(self.bias_initializer),
            "kernel_regularizer": s(self.kernel_regularizer),
            "recurrent_regularizer": s(self.recurrent_regularizer),
            "bias_regularizer": s(self.bias_regularizer),
            "kernel_constraint": s(self.kernel_constraint),
            "recurrent_constraint": s(self.recurrent_constraint),
            "bias_constraint": s(self.bias_constraint),
        }
        return {**super().get_config(), **config}


class _GatedCell(keras.layers.Layer):
    """Shared weights and plumbing of the GRU and LSTM cells (Keras 3 weight layout).

    Weights, batch-major like keras.layers.GRU/LSTM so `set_weights` moves between them:
      kernel <float32>[input_dim, G*units], recurrent_kernel <float32>[units, G*units],
      bias (see each cell). G = 3 gates for the GRU, 4 for the LSTM.
    """
    gates = None

    def __init__(self, units, input_dim=None, use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        check_positive_int("units", units)
        self.units = units
        self.input_dim = input_dim
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.stacked = False

    def _bias_shape(self):
        raise NotImplementedError

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        feature_dim = self.input_dim if self.input_dim is not None else input_shape[-1]
        G = self.gates * self.units
        self.kernel = self.add_weight(name="kernel", shape=(feature_dim, G),
                                      initializer=self.kernel_initializer)
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(self.units, G),
                                                initializer=self.recurrent_initializer)
        self.bias = self.add_weight(name="bias", shape=self._bias_shape(),
                                    initializer=self._bias_initializer()) \
            if self.use_bias else None
        self.built = True

    def weight_tensors(self, dtype):
        cast = lambda v: None if v is None else tf.cast(tf.convert_to_tensor(v), dtype)
        return cast(self.kernel), cast(self.recurrent_kernel), cast(self.bias)

    def get_initial_state(self, batch_size=None):
        return [tf.zeros([batch_size, self.units], self.compute_dtype)
                for _ in self.state_size]

    def call(self, inputs, states, training=None):
        weights = self.weight_tensors(states[0].dtype)
        return self.recurrent_step(self.project_inputs(inputs, weights), list(states),
                                   weights)

    def get_config(self):
        s = keras.saving.serialize_keras_object
        return {**super().get_config(), "units": self.units, "input_dim": self.input_dim,
                "use_bias": self.use_bias,
                "kernel_initializer": s(self.kernel_initializer),
                "recurrent_initializer": s(self.recurrent_initializer),
                "bias_initializer": s(self.bias_initializer)}


def _input_product(x, kernel):
    if x.dtype.is_integer:
        return tf.gather(kernel, x)       # token ids: a row lookup, as in the vanilla cell
    flat = tf.reshape(x, [-1, tf.shape(x)[-1]])
    return tf.reshape(tf.matmul(flat, kernel),
                      tf.concat([tf.shape(x)[:-1], [tf.shape(kernel)[-1]]], 0))


def gru_gates(xp, rec):
    """The GRU's gates from the input term xp = x W + b and the recurrent term
    rec = a<t-1> U + c, both <float>[..., 3*units] in keras' order (z, r, h).

    Returns z, r, the candidate h = tanh(xp_h + r * rec_h), and rec_h, each <float>[..., units].
    """
    x_z, x_r, x_h = tf.split(xp, 3, axis=-1)
    r_z, r_r, r_h = tf.split(rec, 3, axis=-1)
    z = tf.sigmoid(x_z + r_z)
    r = tf.sigmoid(x_r + r_r)
    return z, r, tf.tanh(x_h + r * r_h), r_h


@keras.saving.register_keras_serializable(package="rnn_tf")
class GRUCell(_GatedCell):
    """GRU step, keras.layers.GRU's formulation (reset_after=True, gates z, r, h):

        z = sigmoid(x W_z + b_z + a<t-1> U_z + c_z)       update gate
        r = sigmoid(x W_r + b_r + a<t-1> U_r + c_r)       reset gate
        h = tanh(x W_h + b_h + r * (a<t-1> U_h + c_h))    candidate
        a<t> = z * a<t-1> + (1 - z) * h

    bias <float32>[2, 3*units]: row 0 the input bias b, row 1 the recurrent bias c.
    """
    gates = 3

    @property
    def state_size(self):
        return [self.units]

    @property
    def output_size(self):
        return self.units

    def _bias_shape(self):
        return (2, 3 * self.units)

    def project_inputs(self, x, weights):
        """<float>[..., X] or ids -> <float>[..., 3*units], x W + b for all steps."""
        kernel, _, bias = weights
        xp = _input_product(x, kernel)
        return xp if bias is None else xp + bias[0]

    def recurrent_step(self, xp_t, states, weights):
        _, recurrent_kernel, bias = weights
        a_prev = states[0]                                                # (B, H)
        rec = tf.matmul(a_prev, recurrent_kernel)                         # (B, 3H)
        if bias is not None:
            rec = rec + bias[1]
        z, _, h, _ = gru_gates(xp_t, rec)
        a = z * a_prev + (1.0 - z) * h
        return a, [a]


@keras.saving.register_keras_serializable(package="rnn_tf")
class LSTMCell(_GatedCell):
    """LSTM step, keras.layers.LSTM's formulation (gates i, f, c, o; forget bias 1):

        [i, f, g, o] = x W + a<t-1> U + b
        c<t> = sigmoid(f) * c<t-1> + sigmoid(i) * tanh(g)
        a<t> = sigmoid(o) * tanh(c<t>)

    States: [a<t>, c<t>], each <float>[batch, units]. bias <float32>[4*units].
    """
    gates = 4

    @property
    def state_size(self):
        return [self.units, self.units]

    @property
    def output_size(self):
        return self.units

    def _bias_shape(self):
        return (4 * self.units,)

    def _bias_initializer(self):
        units, init = self.units, self.bias_initializer

        def unit_forget_bias(shape, dtype=None):
            return tf.concat([init((units,), dtype), tf.ones((units,), dtype),
                              init((2 * units,), dtype)], 0)
        return unit_forget_bias

    def project_inputs(self, x, weights):
        kernel, _, bias = weights
        xp = _input_product(x, kernel)
        return xp if bias is None else xp + bias

    def recurrent_step(self, xp_t, states, weights):
        _, recurrent_kernel, _ = weights
        a_prev, c_prev = states
        z = xp_t + tf.matmul(a_prev, recurrent_kernel)                    # (B, 4H)
        i, f, g, o = tf.split(z, 4, axis=-1)
        c = tf.sigmoid(f) * c_prev + tf.sigmoid(i) * tf.tanh(g)
        a = tf.sigmoid(o) * tf.tanh(c)
        return a, [a, c]
