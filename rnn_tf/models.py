"""Builders for the lecture's architectures. Each returns a `keras.Model` that outputs
logits; pair it with the matching loss in `rnn_tf.heads`.

    many_to_many   Tx = Ty: tagging, character language models      ids -> [B, T, C]
    many_to_one    sentence classification                           ids -> [B, C]
    deep stacks    num_layers, dropout between layers, residual connections (all builders)
    bidirectional  bidirectional=True in many_to_many / many_to_one
"""

import keras
from keras import ops
import tensorflow as tf

from rnn_tf.bidirectional import Bidirectional
from rnn_tf.cells import check_positive_int
from rnn_tf.heads import Head
from rnn_tf.recurrent import RNN, CELLS


def _check_rate(name, value):
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1); received {name}={value!r}.")


def _check_common(vocab_size, num_classes, units, num_layers, dropout, cell):
    for name, value in (("vocab_size", vocab_size), ("num_classes", num_classes),
                        ("units", units), ("num_layers", num_layers)):
        check_positive_int(name, value)
    _check_rate("dropout", dropout)
    if cell not in CELLS:
        raise ValueError(f"Unknown cell {cell!r}. Use one of {sorted(CELLS)}.")


def _model(inputs, outputs, name, residual):
    model = keras.Model(inputs, outputs, name=name)
    model.rnn_tf_residual = residual        # read by sampling.Generator
    return model


def _ids_model(return_sequences, vocab_size, num_classes, units, cell, num_layers, dropout,
               residual, bidirectional, output_activation, pad_id, name, token_features=0,
               embedding_dim=0, char_lm=None, char_lm_dropout=0.0):
    """ids [+ per-token features] [+ pretrained character-LM states] -> RNN stack ->
    Head, shared by many_to_many and many_to_one."""
    _check_common(vocab_size, num_classes, units, num_layers, dropout, cell)
    ids = keras.Input((None,), dtype="int32", name="ids")
    mask = None if pad_id is None else ops.not_equal(ids, pad_id)
    inputs, x, input_dim = ids, ids, vocab_size
    from rnn_tf.char_embedding import CharLMEmbedding     # it imports this module
    if char_lm is not None and not isinstance(char_lm, CharLMEmbedding):
        raise ValueError(f"char_lm={char_lm!r} is not an rnn_tf.CharLMEmbedding; pass one "
                         "(or None: no pretrained character-LM features).")
    if not 0.0 <= char_lm_dropout < 1.0:
        raise ValueError(f"char_lm_dropout must be in [0, 1); received "
                         f"char_lm_dropout={char_lm_dropout!r}.")
    if token_features or char_lm is not None:
        if token_features:
            check_positive_int("token_features", token_features, " (or 0 for ids alone)")
        check_positive_int("embedding_dim", embedding_dim or units)
        embedded = keras.layers.Embedding(vocab_size, embedding_dim or units,
                                          name="embedding")(ids)
        inputs, parts = [ids], [embedded]
        if token_features:
            features = keras.Input((None, token_features), name="token_features")
            inputs.append(features)
            parts.append(features)
        if char_lm is not None:
            lm_inputs = [keras.Input((None,), dtype="int32", name=n)
                         for n in ("lm_chars", "word_starts", "word_ends")]
            lm_inputs.append(keras.Input((), dtype="int32", name="lm_lengths"))
            inputs += lm_inputs
            lm = char_lm(*lm_inputs)
            if char_lm_dropout:
                lm = keras.layers.Dropout(char_lm_dropout, name="char_lm_dropout")(lm)
            parts.append(lm)
        x = ops.concatenate(parts, axis=-1)
        input_dim = None
    elif embedding_dim:                  # Embedding(embedding_dim), as Keras models do
        check_positive_int("embedding_dim", embedding_dim)
        x = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")(ids)
        input_dim = None
    a = rnn_stack(x, mask, input_dim, units, cell, num_layers, dropout, residual,
                  bidirectional, return_sequences=return_sequences)
    logits = Head(num_classes, output_activation, name="head")(a)
    return _model(inputs, logits, name, residual)


def rnn_stack(ids, mask, vocab_size, units, cell="vanilla", num_layers=1, dropout=0.0,
              residual=False, bidirectional=False, return_sequences=True, name="rnn"):
    """`num_layers` RNN layers on token ids. The first takes the ids directly
    (`input_dim=vocab_size`: the input product is a row lookup).

    Args:
      ids: <int32>[batch, time] Keras tensor; mask: <bool>[batch, time] or None.
    Returns:
      <float>[batch, time, units'] (or [batch, units'] without return_sequences), units'
      = 2*units for bidirectional layers.
    """
    x = ids
    for i in range(num_layers):
        last = i == num_layers - 1
        layer = RNN(units, cell=cell, input_dim=vocab_size if i == 0 else None,
                    return_sequences=return_sequences or not last, name=f"{name}_{i}")
        if bidirectional:
            layer = Bidirectional(layer, name=f"{name}_bi_{i}")
        y = layer(x, mask=mask)
        if residual and i > 0 and y.shape[-1] == x.shape[-1] and len(y.shape) == len(x.shape):
            y = y + x                               # residual: layer i learns a correction
        x = y
        if dropout and not last:
            x = keras.layers.Dropout(dropout, name=f"{name}_dropout_{i}")(x)
    return x


def many_to_many(vocab_size, num_classes, units=128, cell="vanilla", num_layers=1,
                 dropout=0.0, residual=False, bidirectional=False,
                 output_activation="softmax", pad_id=None, name="many_to_many"):
    """Tx = Ty: one output per input step (tagging, character language models).

    Args:
      vocab_size: input vocabulary V (ids in [0, V)).
      num_classes: outputs per step C.
      units, cell, num_layers, dropout, residual, bidirectional: the RNN stack.
      output_activation: the head's g ('softmax', 'sigmoid', 'linear').
      pad_id: id whose steps are padding (masked), or None.
    Returns:
      keras.Model: <int32>[batch, time] -> logits <float32>[batch, time, C].

    Example:
    >>> model = many_to_many(vocab_size=65, num_classes=65, units=32)
    >>> model(tf.zeros([2, 10], tf.int32)).shape
    TensorShape([2, 10, 65])
    """
    return _ids_model(True, **locals())


def many_to_one(vocab_size, num_classes, units=128, cell="vanilla", num_layers=1,
                dropout=0.0, residual=False, bidirectional=False,
                output_activation="softmax", pad_id=0, name="many_to_one",
                token_features=0, embedding_dim=0, char_lm=None, char_lm_dropout=0.0):
    """One output per sequence, read from the last *valid* step (sentence classification).

    Padded steps keep the state, so the final state is the state after the last valid
    step, whatever the padding.

    With `token_features` = F > 0 the model takes `[ids, features]`, features
    <float32>[batch, time, F] per token (e.g. a lexicon's rating): the ids pass through a
    `keras.layers.Embedding` of `embedding_dim` (default `units`) and the first RNN reads
    [embedding; features] <float32>[batch, time, embedding_dim + F]. Without them the
    first RNN reads the ids itself (W_ax x as a row lookup), or with `embedding_dim` > 0
    a `keras.layers.Embedding(vocab_size, embedding_dim)` of them (a Keras model's
    layout).

    With `char_lm`, a `rnn_tf.CharLMEmbedding`, the first RNN also reads each token's
    pretrained character-LM states, and the model takes four more inputs after the others:
    lm_chars <int32>[batch, L] (the sentence's tokens joined by single spaces, as the LMs'
    ids), word_starts and word_ends <int32>[batch, time] (each token's first and last index
    in it) and lm_lengths <int32>[batch]. `char_lm_dropout` drops those states in
    training (a fraction in [0, 1)).

    Returns:
      keras.Model: <int32>[batch, time] (or [ids, <float32>[batch, time, F]], then the LM
      inputs) -> logits <float32>[batch, C].
    """
    return _ids_model(False, **locals())


def one_to_many(input_dim, num_outputs, units=128, cell="vanilla", num_layers=1,
                dropout=0.0, residual=False, output_activation="sigmoid",
                name="one_to_many"):
    """One input x (or a seed) produces a sequence; each ŷ<t> is fed back as x<t+1>.

    Training uses teacher forcing: the model reads `teacher_forcing_inputs(x0, y)` =
    [x0, y<1>, ..., y<T-1>] and predicts [y<1>, ..., y<T>]. Generation
    (`sampling.Generator.generate_from`) feeds back its own samples instead.

    Args:
      input_dim: width X of x0 and of the fed-back outputs (X = num_outputs when ŷ is fed
        back directly, e.g. a piano roll).
    Returns:
      keras.Model: <float32>[batch, time, X] -> logits <float32>[batch, time, num_outputs].
    """
    _check_common(input_dim, num_outputs, units, num_layers, dropout, cell)
    x = keras.Input((None, input_dim), name="inputs")
    h = x
    for i in range(num_layers):
        y = RNN(units, cell=cell, return_sequences=True, name=f"rnn_{i}")(h)
        if residual and i > 0:
            y = y + h
        h = y
        if dropout and i < num_layers - 1:
            h = keras.layers.Dropout(dropout, name=f"rnn_dropout_{i}")(h)
    logits = Head(num_outputs, output_activation, name="head")(h)
    return _model(x, logits, name, residual)


def teacher_forcing_inputs(x0, targets):
    """[x0, y<1>, ..., y<T-1>]: <float>[B, X], <float>[B, T, X] -> <float>[B, T, X]
    (T = 0 gives <float>[B, 0, X])."""
    shifted = ops.concatenate([ops.expand_dims(x0, 1), targets[:, :-1]], axis=1)
    if targets.shape[1] is not None and targets.shape[1] > 0:
        return shifted
    return shifted[:, :ops.shape(targets)[1]]       # T = 0: targets[:, :-1] is empty too


@keras.saving.register_keras_serializable(package="rnn_tf")
class LanguageModel(keras.Model):
    """A many-to-many language model whose states go in and come out, for truncated BPTT
    over long streams (the state of one window starts the next).

    Args:
      vocab_size, units, cell, num_layers, residual: as `many_to_many`.
      dropout: float in [0, 1), dropout between layers, one mask per sequence.
      output_dropout: float in [0, 1), dropout on the top layer's output before the head,
        one mask per sequence (shared by all its time steps).
      embedding_dim: 0 (the first layer reads the ids, W_ax x as a row lookup) or the
        size of a `keras.layers.Embedding` the first layer reads (a Keras model's layout).

    Call arguments:
      ids: <int32>[batch, time].
      initial_state: list per layer of lists of <float32>[batch, units], or None (zeros).
      mask: <bool>[batch, time] or None.
      return_hidden: also return the first layer's output sequence.
      state_probe: <float32>[batch, time, units] or None, the first layer's `state_probe`
        (`rnn_tf.diagnostics`: dL/da<t> as BPTT carries it).
    Returns:
      (logits <float32>[batch, time, vocab], final_state) [+ hidden <float32>[B, T, H]].
    """

    def __init__(self, vocab_size, units=256, cell="vanilla", num_layers=1, dropout=0.0,
                 residual=False, output_dropout=0.0, embedding_dim=0, **kwargs):
        super().__init__(**kwargs)
        _check_common(vocab_size, vocab_size, units, num_layers, dropout, cell)
        _check_rate("output_dropout", output_dropout)
        self.vocab_size, self.units, self.cell_name = vocab_size, units, cell
        self.num_layers, self.dropout_rate, self.residual = num_layers, dropout, residual
        self.output_dropout = output_dropout
        self.rnn_tf_residual = residual                       # read by sampling.Generator
        self.embedding_dim = embedding_dim
        if embedding_dim:
            check_positive_int("embedding_dim", embedding_dim, " (or 0: the first layer "
                               "reads the ids, W_ax x as a row lookup)")
        # Embedding(embedding_dim) before the first layer, as a Keras model has it
        self.embedding = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding") \
            if embedding_dim else None
        self.rnn_tf_embedding = self.embedding                # read by sampling.Generator
        # One attribute per layer, not a list: TensorFlow checkpoints follow attributes.
        for i in range(num_layers):
            setattr(self, f"rnn_{i}", RNN(units, cell=cell,
                                          input_dim=vocab_size if i == 0 and not
                                          embedding_dim else None,
                                          return_sequences=True, return_state=True,
                                          name=f"rnn_{i}"))
        # Between layers (`dropout`) and on the top layer's output before the head
        # (`output_dropout`), each with one mask per sequence: the same units dropped at
        # every step (Gal & Ghahramani 2016; AWD-LSTM's locked dropout). It also draws T
        # times fewer random numbers: a fresh [32, 100, 512] mask per step cost ~0.7 s
        # under XLA on a 2-core CPU, twice the GRU's whole training step.
        locked = lambda rate: keras.layers.Dropout(rate, noise_shape=(None, 1, units))
        self.drop = locked(dropout) if dropout else None
        self.drop_out = locked(output_dropout) if output_dropout else None
        self.head = Head(vocab_size, "softmax", name="head")
        self.supports_masking = True     # the mask is a call argument, used by every layer

    def compute_mask(self, inputs, mask=None):
        return None

    def build(self, input_shape=None):
        """Builds every layer from <int32>[batch, time] ids of `input_shape` (a Keras
        `.keras` file rebuilds the model this way before it loads the weights)."""
        if self.built:
            return
        batch, time = (list(input_shape) + [None, None])[:2] if input_shape else (1, 1)
        self.call(tf.zeros([batch or 1, time or 1], tf.int32))
        self.built = True

    @property
    def rnns(self):
        """The RNN layers, bottom first."""
        return [getattr(self, f"rnn_{i}") for i in range(self.num_layers)]

    @property
    def _default_save_signature(self):
        # Keras would trace call() with float inputs; this model reads int32 token ids.
        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="ids")])
        def serving_default(ids):
            return {"logits": self(ids)[0]}
        return serving_default

    def zero_state(self, batch_size):
        """Per layer, per cell state: <float32>[batch, units] zeros."""
        return [[ops.zeros((batch_size, self.units))] * layer._num_states
                for layer in self.rnns]

    def call(self, ids, initial_state=None, mask=None, training=None, return_hidden=False,
             state_probe=None):
        h, final, hidden = self._stack(ids, initial_state, mask, training, state_probe)
        if self.drop_out is not None:
            h = self.drop_out(h, training=training)
        logits = self.head(h)
        return (logits, final, hidden) if return_hidden else (logits, final)

    def features(self, ids, mask=None, training=None):
        """The top layer's outputs, what a downstream model reads from a pretrained LM
        (`rnn_tf.CharLMEmbedding`): <int32>[batch, time] ids (and <bool>[batch, time]
        mask or None) -> <float32>[batch, time, units], from zero states, with the
        residual connections, before the output dropout and the head."""
        return self._stack(ids, None, mask, training, None)[0]

    def _stack(self, ids, initial_state, mask, training, state_probe):
        """The layers: (top output [B, T, H], final states, first layer's output)."""
        h, final, hidden = ids, [], None
        if self.embedding is not None:
            h = self.embedding(ids)
        for i, layer in enumerate(self.rnns):
            out = layer(h, initial_state=None if initial_state is None else initial_state[i],
                        mask=mask, state_probe=state_probe if i == 0 else None)
            y, states = out[0], list(out[1:])
            if i == 0:
                hidden = y
            if self.residual and i > 0:
                y = y + h
            final.append(states)
            h = y
            if self.drop is not None and i < self.num_layers - 1:
                h = self.drop(h, training=training)
        return h, final, hidden

    def get_config(self):
        return {"vocab_size": self.vocab_size, "units": self.units, "cell": self.cell_name,
                "num_layers": self.num_layers, "dropout": self.dropout_rate,
                "residual": self.residual, "output_dropout": self.output_dropout,
                "embedding_dim": self.embedding_dim, "name": self.name}
