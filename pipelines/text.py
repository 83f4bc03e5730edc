"""In-graph text processing shared by the transform stage and the exported models.

Every tokenizer here is a TensorFlow function, so the transform stage (which runs it on
the training data) and the SavedModel (which runs it on a user's raw strings) apply the
very same operations: serving sees exactly what training saw.

Vocabularies are lists of strings stored as JSON artifacts; id 0 is [PAD], id 1 [UNK]
(the stated rule for a token absent from the training vocabulary), then task specials,
then tokens by falling frequency (ties alphabetical).
"""

import collections

import numpy as np
import tensorflow as tf

PAD, UNK, BOS, EOS = "[PAD]", "[UNK]", "[BOS]", "[EOS]"

# A word is a run of letters/digits; every other non-space character is its own token.
# RE2 classes \pL and \pN are Unicode-aware, so 'está' stays one word.
_PUNCT = r"([^\pL\pN\s])"


def word_tokens(strings, lower=True):
    """<string>[N] -> <string>[N, (words)] ragged: words and punctuation marks."""
    strings = tf.convert_to_tensor(strings, tf.string)
    if lower:
        strings = tf.strings.lower(strings, encoding="utf-8")
    return tf.strings.split(tf.strings.regex_replace(strings, _PUNCT, r" \1 "))


def whitespace_tokens(strings):
    """<string>[N] -> <string>[N, (tokens)]: the text split on whitespace only."""
    return tf.strings.split(tf.convert_to_tensor(strings, tf.string))


def char_tokens(strings):
    """<string>[...] -> <string>[..., (chars)] ragged: Unicode characters."""
    if not isinstance(strings, tf.RaggedTensor):
        strings = tf.convert_to_tensor(strings, tf.string)
    return tf.strings.unicode_split(strings, "UTF-8")


def detokenize(tokens):
    """<string>[N, (tokens)] -> <string>[N]: joined with spaces, then no space before
    closing punctuation or around apostrophes ("Tom ' s here ." -> "Tom's here.", but
    "parents ' house" -> "parents' house"), inside numbers ("2 : 30", "50 , 000" ->
    "2:30", "50,000"), around a hyphen inside a word ("color - blind" -> "color-blind"),
    between one-letter abbreviations ("p. m." -> "p.m.") and inside a pair of double
    quotes (' " Look , " ' -> '"Look,"')."""
    s = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
    s = tf.strings.regex_replace(s, r" ([.,!?;:%)\]}])", r"\1")
    s = tf.strings.regex_replace(s, r"([(\[{¿¡$€£]) ", r"\1")
    s = tf.strings.regex_replace(s, r"(\pN[.:]) (\pN)", r"\1\2")
    for _ in range(2):             # twice for overlaps: "2,000,000", "just-a-friend"
        s = tf.strings.regex_replace(s, r"(\pN,) (\pN\pN\pN)\b", r"\1\2")  # not "20, 2013"
        s = tf.strings.regex_replace(s, r"([\pL\pN]) - ([\pL\pN])", r"\1-\2")
    s = tf.strings.regex_replace(s, r"\b(\pL\.) (\pL\.)", r"\1\2")      # "p. m." -> "p.m."
    s = tf.strings.regex_replace(s, r'" (.*?) "', r'"\1"')              # quotes in pairs
    s = tf.strings.regex_replace(s, r" ?(['’]) ?(s|t|re|ll|ve|d|m)\b", r"\1\2")
    # a plural possessive keeps its space, held by a private-use mark past the last rule
    s = tf.strings.regex_replace(s, r"(\pLs) (['’]) (\pL)", "\\1\\2\ue000\\3")
    s = tf.strings.regex_replace(s, r" ?(['’]) ?", r"\1")
    return tf.strings.regex_replace(s, "\ue000", " ")


def build_vocab(token_lists, specials=(PAD, UNK), min_count=1, max_size=0):
    """Vocabulary from the training split only: specials, then tokens seen at least
    `min_count` times, most frequent first (`max_size` > 0 caps the total)."""
    counts = collections.Counter(t for tokens in token_lists for t in tokens)
    words = sorted((w for w, c in counts.items() if c >= min_count and w not in specials),
                   key=lambda w: (-counts[w], w))
    vocab = list(specials) + words
    return vocab[:max_size] if max_size else vocab


def lookup_table(vocab, unk_id=1):
    """A StaticHashTable mapping vocab[i] -> i for the non-PAD entries, unknown -> unk_id."""
    keys = tf.constant(vocab[1:])
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(keys, tf.range(1, len(vocab), dtype=tf.int32)),
        default_value=unk_id)


def to_numpy_ragged(ragged):
    """tf.RaggedTensor -> {'values', 'splits_0', ...} arrays for an .npz artifact."""
    out = {"values": ragged.flat_values.numpy()}
    for i, s in enumerate(ragged.nested_row_splits):
        out[f"splits_{i}"] = s.numpy().astype(np.int64)
    return out


def from_numpy_ragged(arrays, prefix):
    """Inverse of `to_numpy_ragged` for keys '<prefix>/values', '<prefix>/splits_i'."""
    splits = []
    i = 0
    while f"{prefix}/splits_{i}" in arrays:
        splits.append(arrays[f"{prefix}/splits_{i}"])
        i += 1
    return tf.RaggedTensor.from_nested_row_splits(arrays[f"{prefix}/values"], splits)


def batched(fn, strings, batch_size=4096):
    """Applies a tokenizer to a long Python list in chunks; returns a list of lists of
    Python strings."""
    out = []
    for i in range(0, len(strings), batch_size):
        r = fn(tf.constant(strings[i:i + batch_size]))
        out.extend([[t.decode("utf-8") for t in row] for row in r.to_list()])
    return out
