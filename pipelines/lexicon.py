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


class Valence(tf.Module):
    """<string>[N, (words)] ragged -> <float32>[N, (words)] ragged: rating / 4, 0 for a
    word the lexicon does not hold."""

    def __init__(self, ratings, name="valence"):
        super().__init__(name=name)
        words = sorted(ratings)
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(words), tf.constant([ratings[w] / SCALE for w in words],
                                                tf.float32)), default_value=0.0)

    def __call__(self, words):
        return tf.ragged.map_flat_values(self.table.lookup, words)
