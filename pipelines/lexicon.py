"""A sentiment lexicon as per-token features: each word's human-rated valence.

The lexicon is VADER's (Hutto and Gilbert, ICWSM 2014; `vader_lexicon.txt` from the
`vaderSentiment` PyPI package, MIT license): about 7,500 English words, emoticons and
slang rated from -4 (most negative) to +4 by ten raters each; the file's second column is
their mean. A classifier trained on 1,600 labelled product and movie sentences has never
seen most sentiment words of another domain ("delicious", "rude"); their ratings carry
over. The lookup is a TensorFlow table, so the transform and the exported model compute
the same features, and the SavedModel holds the table: serving needs no vaderSentiment.
"""

import tensorflow as tf

SCALE = 4.0            # ratings are in [-4, 4]; features in [-1, 1]
# VADER's negation rule (vaderSentiment.py: NEGATE, N_SCALAR, the three-word window): a
# word within three words after a negator has its rating multiplied by -0.74. Our word
# tokens split "isn't" into "isn", "'", "t", so "t" after "'" also counts as a negator.
N_SCALAR = -0.74
WINDOW = 3


def vader_ratings():
    """{word: mean rating} of the single-word entries of VADER's lexicon."""
    import importlib_resources
    path = importlib_resources.files("vaderSentiment") / "vader_lexicon.txt"
    ratings = {}
    for line in path.read_text(encoding="utf-8").split("\n"):
        parts = line.split("\t")
        if len(parts) >= 2 and parts[0] and " " not in parts[0]:
            ratings[parts[0]] = float(parts[1])
    return ratings


def vader_negators():
    """VADER's negation words (its NEGATE list), lower case."""
    from vaderSentiment import vaderSentiment
    return sorted({w.lower() for w in vaderSentiment.NEGATE})


class Valence(tf.Module):
    """<string>[N, (words)] ragged -> <float32>[N, (words)] ragged: rating / 4, 0 for a
    word the lexicon does not hold.

    With `negators` (a list of words), VADER's negation rule applies: a word that follows
    a negator (or the "t" of a split "n't") within `WINDOW` words gets N_SCALAR times its
    rating ("not good" reads -0.74 · 1.9 / 4)."""

    def __init__(self, ratings, negators=None, name="valence"):
        super().__init__(name=name)
        words = sorted(ratings)
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(words), tf.constant([ratings[w] / SCALE for w in words],
                                                tf.float32)), default_value=0.0)
        self.negators = None
        if negators:
            negators = sorted(set(negators))
            self.negators = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(negators), tf.ones([len(negators)], tf.float32)),
                default_value=0.0)

    def __call__(self, words):
        ratings = tf.ragged.map_flat_values(self.table.lookup, words)
        if self.negators is None:
            return ratings
        dense = words.to_tensor("")                                          # [N, T]
        previous = tf.pad(dense, [[0, 0], [1, 0]])[:, :-1]
        neg = tf.maximum(self.negators.lookup(dense), tf.cast(
            tf.logical_and(tf.equal(dense, "t"), tf.equal(previous, "'")), tf.float32))
        # negated[t] = a negator among words t-1 .. t-WINDOW
        shifted = [tf.pad(neg, [[0, 0], [k, 0]])[:, :tf.shape(neg)[1]]
                   for k in range(1, WINDOW + 1)]
        negated = tf.reduce_max(tf.stack(shifted), 0)
        factor = tf.RaggedTensor.from_tensor(1.0 + (N_SCALAR - 1.0) * negated,
                                             lengths=words.row_lengths())
        return ratings * factor
