"""Inputs of pretrained character LMs (`rnn_tf.CharLMEmbedding`) for the tasks whose
config names them in `model.char_lm`: (forward, backward) .keras files, each exported by
the LM task with its char_lm_vocab.json beside it (configs/char_lm_english.py)."""

import hashlib
import json
import os

import numpy as np
import tensorflow as tf

import rnn_tf
from pipelines import common, text

LM_KEYS = ("lm_chars", "word_starts", "word_ends", "lm_lengths")


def char_lm_vocab(paths):
    """The shared vocabulary of the forward and backward LM .keras files `paths`, read
    from the char_lm_vocab.json beside each (the LM task's export); a one-line error for
    a missing file, two vocabularies or a pair in the wrong order."""
    if len(paths) != 2:
        raise common.UserError(f"model.char_lm={tuple(paths)!r} must name two .keras files, "
                               "the forward and the backward LM (configs/char_lm_english.py)")
    vocabs = []
    for path, reverse in zip(paths, (False, True)):
        where = os.path.join(os.path.dirname(path), "char_lm_vocab.json")
        if not (os.path.isfile(path) and os.path.isfile(where)):
            raise common.UserError(f"model.char_lm names {path!r}, which is not an LM export "
                                   f"with {os.path.basename(where)} beside it; train one "
                                   "with configs/char_lm_english.py")
        with open(where) as f:
            meta = json.load(f)
        if meta["reverse"] != reverse:
            raise common.UserError(f"model.char_lm: {path!r} is a "
                                   f"{'backward' if meta['reverse'] else 'forward'} LM; "
                                   "name the forward LM first, then the backward one")
        vocabs.append(meta["vocab"])
    if vocabs[0] != vocabs[1]:
        raise common.UserError(f"model.char_lm: the LMs {paths[0]!r} and {paths[1]!r} have "
                               "different vocabularies; train both on the same corpus")
    return vocabs[0]


def lm_features(words, lm_table, separator=" "):
    """words <string>[N, (W)] -> {lm_chars <int32>[N, (L)], word_starts, word_ends
    <int32>[N, (W)], lm_lengths <int32>[N]}: each sentence's words joined by `separator`
    (single spaces; '' when the words are a text's characters), as LM vocabulary ids
    (unknown characters 0, the LMs' [UNK]), and where each word starts and ends in it."""
    chars = text.char_tokens(tf.strings.reduce_join(words, axis=1, separator=separator))
    lengths = tf.strings.length(words, unit="UTF8_CHAR")
    gap = len(separator)
    ends = tf.math.cumsum((lengths + gap).to_tensor(0), axis=1) - 1 - gap
    ends = tf.RaggedTensor.from_tensor(ends, lengths=lengths.row_lengths())
    lm_chars = tf.ragged.map_flat_values(lm_table.lookup, chars)
    return {"lm_chars": lm_chars, "word_starts": ends - lengths + 1, "word_ends": ends,
            "lm_lengths": tf.cast(lm_chars.row_lengths(), tf.int32)}


def lm_table(vocab):
    """The LMs' character lookup: vocab[i] -> i, anything else 0 (their [UNK])."""
    return text.lookup_table(vocab, unk_id=0)


def files_digest(paths):
    """{"char_lm_files": {path: sha256}} of the LM files and their vocabularies ({} for
    no LMs), for a transform's cache key: an LM retrained at the same path makes a new
    transform."""
    digests = {}
    for path in paths:
        for name in (path, os.path.join(os.path.dirname(path), "char_lm_vocab.json")):
            if os.path.isfile(name):
                with open(name, "rb") as f:
                    digests[name] = hashlib.sha256(f.read()).hexdigest()
    return {"char_lm_files": digests} if digests else {}


def at_least_one_word(words, filler="unk"):
    """words <string>[N, (W)] with `filler` as the one word of each empty row (a sentence
    with no token reads one [UNK] id, and its LM reads one word)."""
    n = tf.shape(words.row_lengths())[0]
    padded = tf.concat([words, tf.RaggedTensor.from_tensor(tf.fill([n, 1], filler))], axis=1)
    keep = tf.ragged.range(padded.row_lengths()) < \
        tf.maximum(words.row_lengths(), 1)[:, None]
    return tf.ragged.boolean_mask(padded, keep)


def lm_states(layer, features, batch_size=128):
    """The states `layer` (a `rnn_tf.CharLMEmbedding`) gives each word of a split whose
    features hold LM_KEYS: <float32>[N, (W), 2 * units], row i of example i. Sentences go
    through the LMs in batches of similar character length (little padding)."""
    call = tf.function(lambda c, s, e, n: layer(c, s, e, n, training=False),
                       reduce_retracing=True)
    lengths = np.asarray(features["lm_lengths"])
    order = np.argsort(lengths, kind="stable")
    parts = []
    for i in range(0, len(order), batch_size):
        rows = order[i:i + batch_size]
        starts = tf.gather(features["word_starts"], rows)
        states = call(tf.gather(features["lm_chars"], rows).to_tensor(0),
                      starts.to_tensor(0), tf.gather(features["word_ends"], rows).to_tensor(0),
                      tf.constant(lengths[rows], tf.int32))
        parts.append(tf.RaggedTensor.from_tensor(states, lengths=starts.row_lengths()))
    if not parts:
        return tf.RaggedTensor.from_row_lengths(tf.zeros([0, 2 * layer.units]),
                                                tf.zeros([0], tf.int64))
    return tf.gather(tf.concat(parts, 0), np.argsort(order, kind="stable"))


def layer(meta, model_config):
    """The `rnn_tf.CharLMEmbedding` of model.char_lm (frozen unless
    model.char_lm_trainable) when the transform `meta` was made with LMs, else None."""
    if not meta.get("lm_vocab"):
        return None
    if not model_config.get("char_lm"):
        raise common.UserError("the transform was made with model.char_lm; pass the same "
                               "model.char_lm to every stage")
    return rnn_tf.CharLMEmbedding(*model_config.char_lm,
                                  trainable=model_config.char_lm_trainable, name="char_lm")
