"""`rnn_tf.Bidirectional`: a plain RNN only sees the past; this one also reads the future."""

import keras
import tensorflow as tf

from rnn_tf.recurrent import RNN

MERGE_MODES = {
    "concat": lambda f, b: tf.concat([f, b], -1),
    "sum": lambda f, b: f + b,
    "ave": lambda f, b: (f + b) / 2,
    "mul": lambda f, b: f * b,
}


@keras.saving.register_keras_serializable(package="rnn_tf")
class Bidirectional(keras.layers.Layer):
    """Runs `layer` forwards and a copy of it (own weights) backwards, then merges.

    The backward direction reverses only the *valid* part of each padded sequence
    (`tf.reverse_sequence` by length), so padding never enters it first and the result
    does not depend on how much padding there is. Padding is taken to be at the end
    (right padding); the lengths come from `lengths` or from the mask.

    Args:
      layer: an `rnn_tf.RNN` (its go_backwards must be False).
      merge_mode: 'concat' (default), 'sum', 'ave' or 'mul'.

    Call arguments:
      inputs: as for `rnn_tf.RNN`.
      mask: <bool>[batch, time] (right-padded) or None.
      lengths: <int32>[batch] or None.

    Returns:
      <float>[batch, time, 2*units] for concat with return_sequences, [batch, 2*units]
      without; `units` wide for the other merge modes.
    """

    def __init__(self, layer, merge_mode="concat", **kwargs):
        if isinstance(layer, dict):
            layer = keras.saving.deserialize_keras_object(layer)
        super().__init__(**kwargs)
        if not isinstance(layer, RNN):
            raise ValueError(f"Bidirectional wraps an rnn_tf.RNN; received {layer!r}.")
        if layer.go_backwards or layer.return_state or layer.stateful:
            raise ValueError("Bidirectional needs a layer with go_backwards, return_state and "
                             "stateful all False; it handles direction itself.")
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"merge_mode must be one of {sorted(MERGE_MODES)}; received "
                             f"{merge_mode!r}.")
        self.forward_layer = layer
        config = layer.get_config()
        config["name"] = "backward_" + config["name"]
        self.backward_layer = RNN.from_config(config)
        self.merge_mode = merge_mode
        self.supports_masking = True

    def build(self, input_shape):
        self.forward_layer.build(input_shape)
        self.backward_layer.build(input_shape)
        self.built = True

    def call(self, inputs, mask=None, lengths=None):
        inputs = tf.convert_to_tensor(inputs)
        time = tf.shape(inputs)[1]
        if lengths is None and mask is not None:
            lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
        if lengths is None:
            lengths = tf.fill([tf.shape(inputs)[0]], time)
        lengths = tf.cast(lengths, tf.int32)
        forward = self.forward_layer(inputs, lengths=lengths)
        reversed_inputs = tf.reverse_sequence(inputs, lengths, seq_axis=1, batch_axis=0)
        backward = self.backward_layer(reversed_inputs, lengths=lengths)
        if self.forward_layer.return_sequences:
            backward = tf.reverse_sequence(backward, lengths, seq_axis=1, batch_axis=0)
        return MERGE_MODES[self.merge_mode](forward, backward)

    def compute_output_shape(self, input_shape):
        shape = list(self.forward_layer.compute_output_shape(input_shape))
        if self.merge_mode == "concat":
            shape[-1] *= 2
        return tuple(shape)

    def compute_mask(self, inputs, mask=None):
        return mask if self.forward_layer.return_sequences else None

    def get_config(self):
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": keras.saving.serialize_keras_object(self.forward_layer)}
