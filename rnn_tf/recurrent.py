"""`rnn_tf.RNN`: the layer that unrolls a cell over time inside a TensorFlow graph.

The public API is batch-major, `<float>[batch, time, features]`; inside, the sequence is
transposed to time-major so each step reads one `[batch, ...]` slab from a TensorArray.
"""

import keras
import tensorflow as tf

from rnn_tf import bptt
from rnn_tf import cells
from rnn_tf import device
from rnn_tf import diagnostics
from rnn_tf import validation
from rnn_tf.unroll import dynamic_unroll  # noqa: F401  (rnn_tf.dynamic_unroll)

_CELL_ARGS = ("activation", "use_bias", "input_dim", "stacked",
              "kernel_initializer", "recurrent_initializer", "bias_initializer",
              "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
              "kernel_constraint", "recurrent_constraint", "bias_constraint")

CELLS = {"vanilla": cells.VanillaCell, "gru": cells.GRUCell, "lstm": cells.LSTMCell}
# Arguments each built-in cell takes beyond units (the rest are vanilla-only).
_GATED_ARGS = ("use_bias", "input_dim", "kernel_initializer", "recurrent_initializer",
               "bias_initializer")


class _FunctionCache:
    """Holds the layer's eager-call tf.functions out of sight of checkpoint tracking."""

    def __init__(self):
        self.functions = {}


@keras.saving.register_keras_serializable(package="rnn_tf")
class RNN(keras.layers.Layer):
    """The lecture's RNN as a Keras layer: `a<t> = g(a<t-1> W_aa + x<t> W_ax + b_a)`.

    One set of parameters (`W_aa`, `W_ax`, `b_a`, in the cell) is shared by every step.
    The input term is computed for all steps at once (one matrix product, or one gather
    for token ids), the recurrence runs in a `tf.while_loop`, and the backward pass is the
    explicit BPTT of `rnn_tf.bptt` (tanh, relu, sigmoid and linear g; the GRU cell has its
    own fused kernel, the LSTM cell uses autodiff).

    Args:
      units: int > 0, size of the state a<t>.
      cell: 'vanilla' (default) or a Keras RNN cell instance (state_size, call(x, states)).
      activation: g, 'tanh' (default) or 'relu' or any Keras activation.
      use_bias: add b_a.
      input_dim: the size of x<t>. Required for `<int32>[batch, time]` token ids, where it
        is the vocabulary size V and `x<t> W_ax` is the row `W_ax[id]`; optional for float
        inputs (read from the last axis, which must then match).
      stacked: compute `[a<t-1>; x<t>] W_a` per step (see `VanillaCell`).
      return_sequences: return all a<t>, `[batch, time, units]`, instead of the last.
      return_state: also return the final state `[batch, units]`.
      go_backwards: process the sequence in reverse and return the reversed sequence
        (as `keras.layers.SimpleRNN` does).
      stateful: carry the final state of one call into the next (truncated BPTT); needs a
        fixed batch size. `reset_state()` sets it back to zero.
      jit_loops: run the fused kernels' time loops (forward and BPTT) as XLA-compiled
        functions of their own, the rest of the step staying TensorFlow ops. None (auto):
        when traced into a graph with a static time length on a machine without a GPU
        (`device.compile_loops`); True or False force it. Inside a caller's own
        `jit_compile=True` function everything is XLA either way.
      batch_shards: unroll the batch as this many independent pieces, side by side. Rows
        of a batch never interact, so each piece runs its own time loop; TensorFlow runs
        the pieces' loops on different CPU cores at once, where one loop of small
        dependent products would use one core. None (auto): one piece per CPU core, at
        least `device.MIN_SHARD_ROWS` rows each, when the loops are compiled
        (`jit_loops`) and the layer is not inside a caller's own XLA function
        (`device.shard_sizes`); an int forces it. Needs a static batch size (otherwise
        one piece). The result is the same as one piece up to float rounding.
      kernel_initializer, recurrent_initializer, bias_initializer, *_regularizer,
      *_constraint: for W_ax, W_aa, b_a, as in Keras.

    Call arguments:
      inputs: `<float>[batch, time, features]`, or `<int32>[batch, time]` ids with
        `input_dim`.
      initial_state: `<float>[batch, units]` (or a one-element list), a<0>; default zeros.
      mask: `<bool>[batch, time]`, the Keras mask. A padded step keeps the previous state
        and outputs zeros.
      lengths: `<int32>[batch]` valid lengths; the same as a mask of `t < length`.
        Combined with `mask` by AND when both are given.
      training: unused by the vanilla cell; passed to custom cells.
      state_probe: `<float>[batch, time, units]` or None: added to a<t> after each step
        (`dynamic_unroll`); pass zeros and take the gradient for it to read dL/da<t> with
        every later step's share (`rnn_tf.diagnostics`). Unrolls with autodiff.

    Returns:
      `<float>[batch, time, units]` if return_sequences else `<float>[batch, units]`;
      with return_state, `[output, final_state]`.

    Example:
    >>> layer = RNN(16, return_sequences=True)
    >>> layer(tf.zeros([2, 5, 3])).shape
    TensorShape([2, 5, 16])
    >>> RNN(16, input_dim=10000)(tf.constant([[3, 9999]])).shape
    TensorShape([1, 16])
    """

    def __init__(self, units, cell="vanilla", activation="tanh", use_bias=True,
                 input_dim=None, stacked=False, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, jit_loops=None, batch_shards=None,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        cell_kwargs = dict(
            activation=activation, use_bias=use_bias, input_dim=input_dim, stacked=stacked,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint)
        if isinstance(cell, str):
            if cell not in CELLS:
                raise ValueError(f"Unknown cell {cell!r}. Use one of {sorted(CELLS)} or pass "
                                 "a Keras RNN cell instance.")
            self.cell_name = cell
            if cell != "vanilla":
                defaults = RNN.__init__.__defaults__
                names = RNN.__init__.__code__.co_varnames[2:2 + len(defaults)]
                changed = [k for k, d in zip(names, defaults)
                           if k in cell_kwargs and k not in _GATED_ARGS
                           and cell_kwargs[k] is not d and cell_kwargs[k] != d]
                if changed:
                    raise ValueError(
                        f"cell={cell!r} does not take {changed}: those configure the vanilla "
                        f"cell. Drop them or use cell='vanilla'.")
                cell_kwargs = {k: cell_kwargs[k] for k in _GATED_ARGS}
            self.cell = CELLS[cell](units, dtype=self.dtype_policy, name=f"{cell}_cell",
                                    **cell_kwargs)
        elif hasattr(cell, "state_size") and callable(cell):
            self.cell_name = None
            self.cell = cell
        else:
            raise ValueError(f"cell must be a name in {sorted(CELLS)} or a Keras RNN cell "
                             f"(with state_size and call(inputs, states)); received {cell!r}.")
        self.units = units
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        if jit_loops is not None and not isinstance(jit_loops, bool):
            raise ValueError(f"jit_loops must be None (auto), True or False; received "
                             f"{jit_loops!r}.")
        self.jit_loops = jit_loops
        if batch_shards is not None and (isinstance(batch_shards, bool) or not isinstance(
                batch_shards, int) or batch_shards < 1):
            raise ValueError(f"batch_shards must be None (auto) or an int >= 1; received "
                             f"{batch_shards!r}.")
        self.batch_shards = batch_shards
        self.supports_masking = True
        self._implementation = device.select_implementation(self.cell)
        # A plain object, not a dict: TensorFlow would track a dict of tf.functions and
        # trace them when a SavedModel holding this layer is written.
        self._eager_cache = _FunctionCache()
        self.state = None            # stateful: list of tf.Variable, one per cell state
        size = self.cell.state_size
        self._num_states = len(size) if isinstance(size, (list, tuple)) else 1

    @property
    def input_dim(self):
        return getattr(self.cell, "input_dim", None)

    @property
    def implementation(self):
        """`device.Implementation`: whether the fused BPTT kernel is used, and why."""
        return self._implementation

    # ------------------------------------------------------------------ build / state
    def build(self, input_shape, *args, **kwargs):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 and not (len(input_shape) == 2 and self.input_dim):
            self._check_input(len(input_shape), None, input_shape[-1])
        if not self.cell.built:
            self.cell.build((input_shape[0], input_shape[-1] if len(input_shape) == 3
                             else self.input_dim))
        if self.stateful:
            batch = input_shape[0]
            if batch is None:
                raise ValueError(
                    "stateful=True needs a fixed batch size to hold the state between "
                    f"calls; received input shape {input_shape}. Use keras.Input("
                    "batch_shape=(batch, time, features)) or call the layer on a batch.")
            # A plain tf.Variable, like keras' RNN states: checkpointed with the layer but
            # not one of its weights, so get_weights() keeps SimpleRNN's layout.
            self.state = [tf.Variable(tf.zeros([batch, self.units], self.variable_dtype),
                                      trainable=False, name=f"state_{i}")
                          for i in range(self._num_states)]
        self.built = True

    def reset_state(self):
        """Sets the carried state of a stateful layer back to a<0> = 0."""
        for variable in self.state or []:
            variable.assign(tf.zeros_like(variable))

    reset_states = reset_state

    # ------------------------------------------------------------------ validation
    def _check_input(self, rank, dtype, width):
        validation.check_input(self, rank, dtype, width)

    def _validate(self, inputs, mask, lengths, initial_state):
        validation.validate(self, inputs, mask, lengths, initial_state)

    # ------------------------------------------------------------------ call
    def call(self, inputs, initial_state=None, mask=None, lengths=None, training=None,
             state_probe=None):
        inputs = tf.convert_to_tensor(inputs)
        if initial_state is not None:
            if not isinstance(initial_state, (list, tuple)):
                initial_state = [initial_state]
            if len(initial_state) != self._num_states:
                raise ValueError(
                    f"This {self.cell_name or type(self.cell).__name__} cell has "
                    f"{self._num_states} state(s); received {len(initial_state)} initial "
                    "states. Pass one <float>[batch, units] tensor per state.")
            initial_state = [tf.cast(s, self.compute_dtype) for s in initial_state]
        if mask is not None:
            mask = tf.cast(mask, tf.bool)
        if lengths is not None:
            lengths = tf.cast(lengths, tf.int32)
        self._validate(inputs, mask, lengths, initial_state)
        if lengths is not None:
            from_lengths = tf.sequence_mask(lengths, tf.shape(inputs)[1])
            mask = from_lengths if mask is None else tf.logical_and(mask, from_lengths)
        if initial_state is None and self.stateful:
            initial_state = [tf.cast(v, self.compute_dtype) for v in self.state]
        if initial_state is None:
            zeros = tf.zeros(tf.stack([tf.shape(inputs)[0], self.units]), self.compute_dtype)
            initial_state = [zeros] * self._num_states
        if state_probe is None:
            state_probe = diagnostics.active_probe(self)
        if state_probe is not None:
            output_sequence, final_state = self._unroll_piece(
                inputs, initial_state, mask, training, False,
                tf.cast(state_probe, self.compute_dtype))
        elif tf.executing_eagerly():
            output_sequence, final_state = self._eager_fn(inputs, mask)(
                inputs, initial_state, *([] if mask is None else [mask]))
        else:
            output_sequence, final_state = self._unroll(inputs, initial_state, mask, training)
        if self.stateful:
            for variable, value in zip(self.state, final_state):
                variable.assign(tf.cast(value, variable.dtype))
        output = output_sequence if self.return_sequences else final_state[0]
        return [output] + list(final_state) if self.return_state else output

    def _eager_fn(self, inputs, mask):
        """A tf.function per (dtype, has-mask) with batch and time left open: a new
        sequence length or batch size reuses the same graph instead of retracing."""
        key = (inputs.dtype, mask is not None)
        fns = self._eager_cache.functions
        if key not in fns:
            signature = [tf.TensorSpec([None, None] + inputs.shape[2:].as_list(), inputs.dtype),
                         [tf.TensorSpec([None, self.units], self.compute_dtype)]
                         * self._num_states]
            if mask is not None:
                signature.append(tf.TensorSpec([None, None], tf.bool))
            fns[key] = tf.function(
                lambda x, a0, m=None: self._unroll(x, a0, m, None), input_signature=signature,
                autograph=False)
        return fns[key]

    def _unroll(self, inputs, initial_state, mask, training):
        """Runs the cell over time, as `batch_shards` independent pieces of the batch.

        Args and returns as `_unroll_piece`. Each piece is split off, unrolled and
        concatenated along the batch axis; nothing links the pieces, so TensorFlow's
        executor runs their loops (forward, and BPTT in the gradient) at the same time.
        """
        compiled = self._implementation.fused and device.compile_loops(
            self.jit_loops, inputs.shape[1], self.compute_dtype)
        sizes = device.shard_sizes(self.batch_shards, inputs.shape[0], compiled)
        if len(sizes) == 1:
            return self._unroll_piece(inputs, initial_state, mask, training, compiled)
        split = lambda t: tf.split(t, sizes, axis=0)
        pieces = zip(split(inputs), zip(*[split(s) for s in initial_state]),
                     split(mask) if mask is not None else [None] * len(sizes))
        outs = [self._unroll_piece(x, list(a0), m, training, compiled)
                for x, a0, m in pieces]
        return (tf.concat([o[0] for o in outs], 0),
                [tf.concat(list(s), 0) for s in zip(*[o[1] for o in outs])])

    def _unroll_piece(self, inputs, initial_state, mask, training, compiled, probe=None):
        """Runs the cell over time. Batch-major in and out; time-major inside.

        Args:
          inputs: <float>[B, T, X] or <int32>[B, T].
          initial_state: list of <float>[B, H], one per cell state.
          mask: <bool>[B, T] or None.
          training: passed to a generic cell's call.
          compiled: bool, whether the fused kernel's loops are XLA-compiled functions
            (`device.compile_loops`, decided once in `_unroll` for all pieces).
          probe: <float>[B, T, H] or None, the call's `state_probe` (generic unroll).
        Returns:
          output_sequence <float>[B, T, H] (zeros at padded steps), final_state: list of
          <float>[B, H].
        """
        perm = [1, 0] + list(range(2, inputs.shape.rank))
        x = tf.transpose(inputs, perm)                                  # (T, B, ...)
        m = None if mask is None else tf.transpose(mask)[:, :, None]    # (T, B, 1)
        p = None if probe is None else tf.transpose(probe, [1, 0, 2])
        if self.go_backwards:
            x, m, p = [None if v is None else tf.reverse(v, [0]) for v in (x, m, p)]
        if self._implementation.fused and p is None:
            a0 = initial_state[0]
            A = self._fused(x, a0, m, compiled)                         # (T, B, H)
            # a sequence of length 0 ends in a<0>
            final_state = [bptt.if_steps(A, lambda: A[-1], lambda: a0)]
        else:
            A, final_state = self._generic(x, initial_state, m, training, p)
        output_sequence = A if m is None else tf.where(m, A, tf.zeros_like(A))
        return tf.transpose(output_sequence, [1, 0, 2]), final_state     # (B, T, H)

    def _fused(self, x, a0, m, compiled):
        cell = self.cell
        if isinstance(cell, cells.GRUCell):
            weights = cell.weight_tensors(self.compute_dtype)
            xp = cell.project_inputs(x, weights)                          # (T, B, 3H), hoisted
            U, bias = weights[1], weights[2]
            c = bias[1] if bias is not None else tf.zeros([3 * self.units], U.dtype)
            return bptt.fused_gru_unroll(xp, U, c, a0, m, compiled)
        W_aa, W_ax, b_a = cell.weight_tensors(self.compute_dtype)
        name = cells.activation_name(cell.activation)
        if cell.stacked:
            b = b_a if b_a is not None else tf.zeros([self.units], W_aa.dtype)
            return bptt.fused_unroll_stacked(x, W_aa, W_ax, b, a0, m, name, compiled)
        xp = cell.project_inputs(x, W_ax, b_a)                            # (T, B, H), hoisted
        return bptt.fused_unroll(xp, W_aa, a0, m, name, compiled)

    def _generic(self, x, states, m, training, probe=None):
        cell = self.cell
        if isinstance(cell, cells.VanillaCell):
            W_aa, W_ax, b_a = cell.weight_tensors(self.compute_dtype)
            if cell.stacked:
                W_a = tf.concat([W_aa, W_ax], 0)
                one = lambda x_t, s: cell.stacked_step(x_t, s[0], W_a, b_a)
            else:
                x = cell.project_inputs(x, W_ax, b_a)                      # hoisted
                one = lambda x_t, s: cell.step(x_t, s[0], W_aa)
            step = lambda x_t, s: (lambda a: (a, [a]))(one(x_t, s))
        elif hasattr(cell, "recurrent_step"):
            weights = cell.weight_tensors(self.compute_dtype)
            x = cell.project_inputs(x, weights)                              # hoisted
            step = lambda x_t, s: cell.recurrent_step(x_t, s, weights)
        else:
            def step(x_t, s):
                output, next_state = cell(x_t, s, training=training)
                return output, list(next_state) if isinstance(
                    next_state, (list, tuple)) else [next_state]
        return dynamic_unroll(step, x, list(states), m, probe)

    # ------------------------------------------------------------------ keras plumbing
    def compute_output_shape(self, input_shape, *args, **kwargs):
        batch, time = input_shape[0], input_shape[1]
        out = (batch, time, self.units) if self.return_sequences else (batch, self.units)
        return [out] + [(batch, self.units)] * self._num_states if self.return_state else out

    def compute_mask(self, inputs, mask=None):
        if not self.return_sequences:
            return [None] * (1 + self._num_states) if self.return_state else None
        out_mask = mask
        if out_mask is not None and self.go_backwards:
            out_mask = tf.reverse(out_mask, [1])
        return [out_mask] + [None] * self._num_states if self.return_state else out_mask

    def get_config(self):
        config = {
            "units": self.units,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "jit_loops": self.jit_loops,
            "batch_shards": self.batch_shards,
        }
        if self.cell_name is not None:
            config["cell"] = self.cell_name
            cell_config = self.cell.get_config()
            config.update({k: cell_config[k] for k in _CELL_ARGS if k in cell_config})
        else:
            config["cell"] = keras.saving.serialize_keras_object(self.cell)
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("cell"), dict):
            config["cell"] = keras.saving.deserialize_keras_object(config["cell"])
        return cls(**config)
