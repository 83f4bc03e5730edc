"""A sequence tagger (many-to-many, Tx = Ty, bidirectional) with a character-level RNN
word encoder, so a word never seen in training is still read letter by letter.

    e_word<w>  = Embedding(word id)                       (id 1 = [UNK])
    e_char<w>  = BiRNN over the characters of word w, final states [fwd; bwd]
    e_lm<w>    = pretrained character-LM states of word w in its sentence (optional,
                 `rnn_tf.CharLMEmbedding`: forward at its end, backward at its start)
    a<1..W>    = BiRNN stack over [e_word<w>; e_char<w>; e_lm<w>]
    logits<w>  = W_ya a<w> + b_y                          (softmax over the tags)
"""

import keras
import tensorflow as tf

from rnn_tf.bidirectional import Bidirectional
from rnn_tf.cells import check_positive_int
from rnn_tf import char_embedding
from rnn_tf.char_embedding import CharLMEmbedding
from rnn_tf.heads import Head
from rnn_tf.recurrent import RNN, CELLS


@keras.saving.register_keras_serializable(package="rnn_tf")
class CharWordTagger(keras.Model):
    """Tags every word of a sentence.

    Args:
      word_vocab, char_vocab, num_tags: sizes (id 0 is padding in both vocabularies).
      units: word-level RNN units per direction; num_layers of them.
      char_units: character RNN units per direction (0: no character encoder).
      word_dim: word embedding size.
      cell, char_cell: 'vanilla', 'gru' or 'lstm'.
      dropout: on the word features and between layers.
      char_lm: a `rnn_tf.CharLMEmbedding` whose word features join the others, or None.

    Call arguments:
      inputs: (word_ids <int32>[B, W], char_ids <int32>[B, W, C]); 0 pads both. With
        `char_lm`, four more: lm_chars <int32>[B, L] (each sentence's characters, its
        words joined by single spaces, as ids of the LMs' vocabulary), word_starts and
        word_ends <int32>[B, W] (each word's first and last index in lm_chars) and
        lm_lengths <int32>[B] (characters per sentence); or one: the states `char_lm`
        gives those inputs, <float32>[B, W, 2 * char_lm.units], computed beforehand (a
        frozen LM's states do not change in training).
    Returns:
      logits <float32>[B, W, num_tags].
    """

    def __init__(self, word_vocab, char_vocab, num_tags, units=128, num_layers=1,
                 char_units=64, word_dim=100, cell="lstm", char_cell="gru", dropout=0.3,
                 char_lm=None, **kwargs):
        super().__init__(**kwargs)
        for name, v in (("word_vocab", word_vocab), ("char_vocab", char_vocab),
                        ("num_tags", num_tags), ("units", units), ("num_layers", num_layers),
                        ("word_dim", word_dim)):
            check_positive_int(name, v)
        for name, c in (("cell", cell), ("char_cell", char_cell)):
            if c not in CELLS:
                raise ValueError(f"Unknown {name} {c!r}. Use one of {sorted(CELLS)}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); received dropout={dropout!r}.")
        if char_lm is not None and not isinstance(char_lm, CharLMEmbedding):
            raise ValueError(f"char_lm={char_lm!r} is not an rnn_tf.CharLMEmbedding; pass "
                             "one (or None: no pretrained character-LM features).")
        self.char_lm = char_lm
        self.word_vocab, self.char_vocab, self.num_tags = word_vocab, char_vocab, num_tags
        self.units, self.num_layers, self.char_units = units, num_layers, char_units
        self.word_dim, self.cell_name, self.char_cell = word_dim, cell, char_cell
        self.dropout_rate = dropout
        self.embedding = keras.layers.Embedding(word_vocab, word_dim, name="word_embedding")
        self.char_rnn = (Bidirectional(RNN(char_units, cell=char_cell, input_dim=char_vocab,
                                           name="char_rnn"), name="char_birnn")
                         if char_units else None)
        for i in range(num_layers):
            setattr(self, f"rnn_{i}", Bidirectional(
                RNN(units, cell=cell, return_sequences=True, name=f"rnn_{i}"),
                name=f"birnn_{i}"))
        self.drop = keras.layers.Dropout(dropout)
        self.head = Head(num_tags, "softmax", name="head")

    def build(self, input_shape=None):
        feat = self.word_dim + 2 * self.char_units
        if self.char_lm is not None:
            self.char_lm.build()
            feat += 2 * self.char_lm.units
        self.embedding.build((None, None))
        if self.char_rnn is not None:
            self.char_rnn.build((None, None))
        for i in range(self.num_layers):
            getattr(self, f"rnn_{i}").build((None, None, feat if i == 0 else 2 * self.units))
        self.head.build((None, None, 2 * self.units))
        self.built = True

    @property
    def _default_save_signature(self):
        spec2, spec3 = (tf.TensorSpec([None, None], tf.int32),
                        tf.TensorSpec([None, None, None], tf.int32))

        lm = (spec2, spec2, spec2, tf.TensorSpec([None], tf.int32)) if self.char_lm else ()

        @tf.function(input_signature=[(spec2, spec3) + lm])
        def serving_default(inputs):
            return {"logits": self(inputs)}
        return serving_default

    def encode_words(self, char_ids, word_mask):
        """<int32>[B, W, C] -> <float>[B, W, 2*char_units]: the character RNN runs only on
        the real words (gathered), not on padding."""
        where = tf.where(word_mask)                                       # (Nw, 2)
        chars = tf.gather_nd(char_ids, where)                             # (Nw, C)
        lengths = tf.reduce_sum(tf.cast(chars > 0, tf.int32), 1)
        encoded = self.char_rnn(chars, lengths=tf.maximum(lengths, 1))    # (Nw, 2c)
        shape = tf.concat([tf.shape(word_mask, out_type=tf.int64),
                           [tf.shape(encoded, out_type=tf.int64)[1]]], 0)
        return tf.scatter_nd(where, encoded, shape)

    def call(self, inputs, training=None):
        word_ids, char_ids = inputs[:2]
        word_ids = tf.cast(word_ids, tf.int32)
        mask = tf.not_equal(word_ids, 0)
        h = self.embedding(word_ids)
        if self.char_rnn is not None:
            h = tf.concat([h, tf.cast(self.encode_words(tf.cast(char_ids, tf.int32), mask),
                                      h.dtype)], -1)
        if self.char_lm is not None:
            if len(inputs) not in (3, 6):
                raise ValueError(f"this tagger reads character-LM features: call it with 6 "
                                 f"inputs (word_ids, char_ids, lm_chars, word_starts, "
                                 f"word_ends, lm_lengths), or 3 (word_ids, char_ids, the "
                                 f"LM states), not {len(inputs)}")
            lm = (inputs[2] if len(inputs) == 3 else
                  self.char_lm(*inputs[2:], training=training))
            h = tf.concat([h, tf.cast(lm, h.dtype)], -1)
        h = self.drop(h, training=training)
        for i in range(self.num_layers):
            h = getattr(self, f"rnn_{i}")(h, mask=mask)
            h = self.drop(h, training=training)
        return self.head(h)

    def get_config(self):
        return {"word_vocab": self.word_vocab, "char_vocab": self.char_vocab,
                "num_tags": self.num_tags, "units": self.units,
                "num_layers": self.num_layers, "char_units": self.char_units,
                "word_dim": self.word_dim, "cell": self.cell_name,
                "char_cell": self.char_cell, "dropout": self.dropout_rate, "name": self.name,
                "char_lm": char_embedding.serialize(self.char_lm)}

    @classmethod
    def from_config(cls, config):
        return char_embedding.from_config(cls, config)


def char_word_tagger(word_vocab, char_vocab, num_tags, **kwargs):
    """Builds a `CharWordTagger` (see its Args)."""
    model = CharWordTagger(word_vocab, char_vocab, num_tags, **kwargs)
    model.build()
    return model
