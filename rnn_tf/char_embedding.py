"""Contextual string embeddings (Akbik, Blythe & Vollgraf 2018): word features read from a
pretrained forward and backward character language model.

A sentence is one character sequence c<1..C>, words separated as the LMs were trained
(by spaces). The forward LM reads it left to right, the backward LM right to left. Word
i, spanning characters s_i .. e_i, gets

    [ a_f<e_i> ; a_b<s_i> ]

the forward LM's top state after reading the word's last character, and the backward
LM's top state after reading (right to left) its first character: each has read the
whole word and everything on its side of it.
"""

import keras
import tensorflow as tf

from rnn_tf.models import LanguageModel


def _language_model(lm, what):
    if isinstance(lm, str):
        lm = keras.saving.load_model(lm)
    if not isinstance(lm, LanguageModel):
        raise ValueError(f"{what}={lm!r} is not an rnn_tf.models.LanguageModel: pass the "
                         "model, or the path of its .keras file (model.save(path))")
    return lm


@keras.saving.register_keras_serializable(package="rnn_tf")
class CharLMEmbedding(keras.layers.Layer):
    """Word features from a forward and a backward character LM (module docstring).

    Args:
      forward_lm: `rnn_tf.models.LanguageModel` over character ids, trained left to
        right, or the path of its `.keras` file.
      backward_lm: the same, trained on reversed text (its vocabulary the forward one's).
      trainable: False (the default) freezes both LMs' weights; True fine-tunes them
        with the model that uses the layer.

    Call arguments:
      chars: <int32>[batch, C] character ids of each sentence, padded with any id after
        its length.
      word_starts, word_ends: <int32>[batch, W] each word's first and last character
        index in `chars` (padded words: any index in [0, C)).
      lengths: <int32>[batch] characters per sentence, or None (all C).
    Returns:
      <float32>[batch, W, 2 * units]: forward state at each word's end, backward state at
      its start.
    """

    def __init__(self, forward_lm, backward_lm, trainable=False, **kwargs):
        super().__init__(trainable=trainable, **kwargs)
        self.forward_lm = _language_model(forward_lm, "forward_lm")
        self.backward_lm = _language_model(backward_lm, "backward_lm")
        f, b = self.forward_lm, self.backward_lm
        if (f.vocab_size, f.units) != (b.vocab_size, b.units):
            raise ValueError(
                f"the LMs differ: forward vocab_size={f.vocab_size}, units={f.units}; "
                f"backward vocab_size={b.vocab_size}, units={b.units}. Train both on the "
                "same character vocabulary with the same units")
        self.units = f.units
        self.supports_masking = False
        self._freeze_lms()

    def build(self, input_shape=None):
        for lm in (self.forward_lm, self.backward_lm):
            if not lm.built:
                lm(tf.zeros([1, 1], tf.int32))
        self._freeze_lms()               # the variables the LMs have just created too
        self.built = True

    def _freeze_lms(self):
        """Sets the LMs' `trainable` (down to their variables) to this layer's: a model
        that holds a frozen layer must not find the LMs' weights among its trainable ones
        (the layer's own flag does not reach them: Keras sets sublayers only when the
        flag changes)."""
        for lm in (self.forward_lm, self.backward_lm):
            lm.trainable = self.trainable

    def call(self, chars, word_starts, word_ends, lengths=None, training=None):
        chars = tf.cast(chars, tf.int32)
        batch, time = tf.shape(chars)[0], tf.shape(chars)[1]
        lengths = tf.fill([batch], time) if lengths is None else tf.cast(lengths, tf.int32)
        mask = tf.sequence_mask(lengths, time)
        training = training and self.trainable
        forward = self.forward_lm.features(chars, mask=mask, training=training)
        # the backward LM reads each sentence reversed within its length; reversed back,
        # column t holds its state after reading characters len-1 down to t
        backward = tf.reverse_sequence(
            self.backward_lm.features(tf.reverse_sequence(chars, lengths, 1, 0), mask=mask,
                                      training=training), lengths, 1, 0)
        return tf.concat([tf.gather(forward, tf.cast(word_ends, tf.int32), batch_dims=1),
                          tf.gather(backward, tf.cast(word_starts, tf.int32), batch_dims=1)],
                         -1)

    def compute_output_shape(self, chars_shape, *args, **kwargs):
        return (chars_shape[0], None, 2 * self.units)

    def get_config(self):
        config = super().get_config()
        config.update(forward_lm=keras.saving.serialize_keras_object(self.forward_lm),
                      backward_lm=keras.saving.serialize_keras_object(self.backward_lm))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("forward_lm", "backward_lm"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def serialize(char_lm):
    """A model's `char_lm` entry of its get_config: the layer's Keras serialization, or
    None."""
    return None if char_lm is None else keras.saving.serialize_keras_object(char_lm)


def from_config(cls, config):
    """`cls(**config)` for a model whose config holds `char_lm` as `serialize` wrote it."""
    config = dict(config)
    if config.get("char_lm") is not None:
        config["char_lm"] = keras.saving.deserialize_keras_object(config["char_lm"])
    return cls(**config)


def word_spans(text):
    """(starts, ends) lists of int: the first and last character index of each
    space-separated word of `text` (str), for `CharLMEmbedding`'s call."""
    starts, ends, i = [], [], 0
    for word in text.split(" "):
        if word:
            starts.append(i)
            ends.append(i + len(word) - 1)
        i += len(word) + 1
    return starts, ends
