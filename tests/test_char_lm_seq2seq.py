"""Pretrained character-LM states in the encoder-decoder: `EncoderDecoder(char_lm=...)`
reads [E x<t>; the LMs' states] at each source token, in training, greedy decoding, beam
search and a saved .keras file; the seq2seq task feeds it one LM word per source id (words
joined by spaces, characters by nothing) and exports it with the LMs in the graph."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import rnn_tf
from rnn_tf.seq2seq import EncoderDecoder
from tests.test_char_embedding import _save_lm_pair

VOCAB = ["[UNK]", " ", "a", "b", "c", "d", "e"]


def _model(tmp_path, **kwargs):
    forward, backward = _save_lm_pair(tmp_path, VOCAB)
    layer = rnn_tf.CharLMEmbedding(forward, backward)
    model = EncoderDecoder(9, 7, units=5, embedding_dim=3, char_lm=layer, **kwargs)
    model.build()
    return model, layer


def _source():
    """Two sources of 3 and 2 tokens: 'ab c dd' and 'e a', as ids and LM inputs."""
    ids = np.array([[4, 5, 6], [7, 8, 0]], np.int32)
    chars = np.array([[2, 3, 1, 4, 1, 5, 5], [6, 1, 2, 0, 0, 0, 0]], np.int32)
    starts = np.array([[0, 3, 5], [0, 2, 0]], np.int32)
    ends = np.array([[1, 3, 6], [0, 2, 0]], np.int32)
    return ids, chars, starts, ends, np.array([7, 3], np.int32)


def test_encoder_reads_embedding_and_lm_states(tmp_path):
    model, layer = _model(tmp_path)
    ids, chars, starts, ends, lengths = source = _source()
    memory, mask, states = model.encode(model._source(source))
    x = tf.concat([model.source_embedding(ids), layer(chars, starts, ends, lengths)], -1)
    assert x.shape[-1] == 5 + 2 * 4               # E = units when source_embedding_dim=0
    outputs = model.encoder(x, mask=tf.not_equal(ids, 0))
    np.testing.assert_allclose(memory, outputs[0], atol=1e-6)
    np.testing.assert_allclose(states[0], outputs[1], atol=1e-6)
    # frozen LMs: none of their weights train with the model
    trainable = {id(w) for w in model.trainable_weights}
    assert layer.weights and not any(id(w) in trainable for w in layer.weights)


def test_decoding_and_a_saved_file_take_the_lm_inputs(tmp_path):
    model, _ = _model(tmp_path, attention=True)
    source = _source()
    target_in = np.array([[1, 3, 4], [1, 5, 0]], np.int32)
    logits = model((source, target_in))
    assert logits.shape == (2, 3, 7) and logits.dtype == tf.float32
    greedy = model.decode(source, 6)
    assert greedy.shape == (2, 6)
    np.testing.assert_array_equal(model.decode(source, 6, method="beam", beam_width=1),
                                  greedy)
    ids, aligned = model.decode(source, 6, method="beam", beam_width=3,
                                return_alignment=True)
    assert ids.shape == aligned.shape == (2, 6)
    path = str(tmp_path / "s2s.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.char_lm, rnn_tf.CharLMEmbedding)
    np.testing.assert_allclose(loaded((source, target_in)), logits, atol=1e-6)
    with pytest.raises(ValueError, match="pass the source as"):
        model.decode(source[0], 6)
    with pytest.raises(ValueError, match="has no char_lm"):
        EncoderDecoder(9, 7, units=5).decode(source, 6)


def test_lm_words_are_one_per_source_id_for_characters_and_words(tmp_path):
    """Characters join with nothing (the LM reads the text itself, one word per
    character), words with single spaces; an empty source reads one filler word."""
    from configs import dates, translation
    from pipelines import text
    from pipelines.tasks.seq2seq import Seq2SeqTask
    table = text.lookup_table(VOCAB, unk_id=0)
    chars = Seq2SeqTask(dates.get_config("tiny"))
    out = chars.lm_inputs(tf.constant(["ab c", ""]), table)
    assert out["lm_chars"].to_list() == [[2, 3, 1, 4], [0, 0, 0]]        # 'unk' filler
    assert out["word_starts"].to_list() == [[0, 1, 2, 3], [0]]
    assert out["word_ends"].to_list() == [[0, 1, 2, 3], [2]]
    words = Seq2SeqTask(translation.get_config("tiny"))
    out = words.lm_inputs(tf.constant(["Ab c", "  "]), table)
    assert out["word_starts"].to_list() == [[0, 3], [0]]
    assert out["word_ends"].to_list() == [[1, 3], [2]]
    assert out["lm_lengths"].numpy().tolist() == [4, 3]


@pytest.mark.data("spa_eng")
def test_translation_with_char_lm_trains_and_exports(tmp_path):
    """configs/translation.py:tiny with model.char_lm: the encoder reads the LMs' states,
    the LMs stay frozen, and the export runs them in its graph: it answers a batch, an
    empty batch and blank sentences."""
    import string
    from configs import translation
    from pipelines.tasks import base
    from pipelines.tasks.seq2seq import Seq2SeqTask
    from pipelines.train import STAGES, run_pipeline
    vocab = ["[UNK]"] + sorted(set(string.printable) - set("\t\n\r\x0b\x0c"))
    forward, backward = _save_lm_pair(tmp_path, vocab)
    config = translation.get_config("tiny")
    config.model.char_lm = (forward, backward)
    config.train.steps = 10
    workdir = str(tmp_path / "run")
    results = run_pipeline(config, workdir, list(STAGES), log=lambda *a: None)
    model = base.load_best(Seq2SeqTask(config), workdir)
    assert model.char_lm is not None and not model.char_lm.trainable
    assert model.encoder.weights[0].shape[0] == config.model.units + 2 * 4
    lm = keras.saving.load_model(forward)
    for a, b in zip(model.char_lm.forward_lm.weights, lm.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())          # frozen in training
    serve = tf.saved_model.load(os.path.join(results["export"], "saved_model")
                                ).signatures["serving_default"]
    for batch in (["Me gusta el té.", "¿Dónde está Tom?"], [], ["", "   "]):
        out = serve(sentences=tf.constant(batch, tf.string))["output"].numpy()
        assert out.shape == (len(batch),)
    assert serve(sentences=tf.constant(["", " "]))["output"].numpy().tolist() == [b"", b""]
