"""Encoder-decoder: the reversal task (Tx = Ty varies per example), greedy and beam."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from rnn_tf import heads, seq2seq

V, PAD, BOS, EOS, OFFSET, MAX_LEN = 10, 0, 1, 2, 3, 12


def reversal_batch(rng, n):
    """Random strings of length 3-12 over 10 symbols and their reversal + EOS."""
    lengths = rng.integers(3, MAX_LEN + 1, n)
    source = np.full((n, MAX_LEN), PAD, np.int32)
    target = np.full((n, MAX_LEN + 1), PAD, np.int32)
    for i, length in enumerate(lengths):
        s = rng.integers(0, V, length) + OFFSET
        source[i, :length] = s
        target[i, :length] = s[::-1]
        target[i, length] = EOS
    target_in = np.concatenate([np.full((n, 1), BOS, np.int32), target[:, :-1]], 1)
    return source, target_in, target


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    model = seq2seq.encoder_decoder(V + OFFSET, V + OFFSET, units=64, cell="gru",
                                    attention=True)
    steps = 2000                               # ~45 s on 2 cores
    opt = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(0.01, steps),
                                clipnorm=5.0)

    @tf.function
    def step(source, target_in, target):
        with tf.GradientTape() as tape:
            logits = model((source, target_in), training=True)
            loss = heads.softmax_loss(target, logits, tf.not_equal(target, PAD))
        grads = tape.gradient(loss, model.trainable_weights)
        opt.apply_gradients(zip(grads, model.trainable_weights))
        return loss
    for _ in range(steps):
        step(*reversal_batch(rng, 64))
    return model


def test_reversal_greedy_and_beam_reach_99_percent(trained):
    source, _, target = reversal_batch(np.random.default_rng(123), 500)   # unseen strings
    greedy = trained.greedy_decode(source, MAX_LEN + 1).numpy()
    beam = trained.beam_search(source, MAX_LEN + 1, beam_width=3).numpy()
    greedy_exact = np.mean(np.all(greedy == target, 1))
    beam_exact = np.mean(np.all(beam == target, 1))
    assert greedy_exact >= 0.99 and beam_exact >= 0.99, (greedy_exact, beam_exact)


def test_beam_width_one_equals_greedy(trained):
    source, _, _ = reversal_batch(np.random.default_rng(7), 50)
    np.testing.assert_array_equal(trained.beam_search(source, MAX_LEN + 1, beam_width=1),
                                  trained.greedy_decode(source, MAX_LEN + 1))


def test_decoders_answer_empty_batches_and_sources_and_max_length_zero(trained):
    """No rows, rows with no source token, or max_length 0: [B, max_length] of pad ids
    where nothing was decoded (a TensorArray of unknown shape cannot stack zero steps)."""
    for source, max_length in [(np.zeros((0, 4)), 6), (np.zeros((2, 0)), 6),
                               (np.zeros((0, 0)), 6), (np.array([[5, 6, 7]]), 0)]:
        source = source.astype(np.int32)
        greedy = trained.greedy_decode(source, max_length).numpy()
        beam = trained.beam_search(source, max_length, beam_width=2).numpy()
        assert greedy.shape == beam.shape == (source.shape[0], max_length)
    source, _, _ = reversal_batch(np.random.default_rng(5), 3)
    short = trained.greedy_decode(source, 2).numpy()             # cut before EOS
    np.testing.assert_array_equal(short, trained.greedy_decode(source, MAX_LEN + 1)[:, :2])


@pytest.mark.parametrize("cell,attention", [("vanilla", False), ("lstm", True)])
def test_shapes_and_one_step_trains_every_variable(cell, attention):
    model = seq2seq.encoder_decoder(13, 9, units=8, cell=cell, attention=attention)
    source, target_in, _ = reversal_batch(np.random.default_rng(1), 4)
    target_in = np.minimum(target_in, 8)
    logits = model((source, target_in))
    assert logits.shape == (4, MAX_LEN + 1, 9)
    before = [w.numpy().copy() for w in model.trainable_weights]
    with tf.GradientTape() as tape:
        loss = heads.softmax_loss(target_in, model((source, target_in)))
    grads = tape.gradient(loss, model.trainable_weights)
    keras.optimizers.Adam(0.01).apply_gradients(zip(grads, model.trainable_weights))
    for b, w in zip(before, model.trainable_weights):
        assert not np.allclose(b, w.numpy()), w.path


def test_bad_input():
    model = seq2seq.encoder_decoder(13, 9, units=8)
    with pytest.raises(ValueError, match="beam_width must be a positive int"):
        model.beam_search(np.ones((1, 3), np.int32), 5, beam_width=0)
    with pytest.raises(ValueError, match=r"source ids must lie in \[0, 13\)"):
        model((np.full((1, 3), 13, np.int32), np.ones((1, 2), np.int32)))
    with pytest.raises(ValueError, match="eos_id=20"):
        seq2seq.encoder_decoder(13, 9, eos_id=20)


def test_decoding_batches_by_length_and_keeps_the_input_order(monkeypatch):
    """decode_all sorts sentences by length into batches of 256 (a batch decodes until its
    longest output ends) and returns the outputs in the input's order."""
    from configs import translation
    from pipelines.tasks.seq2seq import Seq2SeqTask
    task = Seq2SeqTask(translation.get_config("tiny"))
    batches = []

    def fake_translate_fn(model, beam_width):
        def fn(sentences):
            batch = [s.decode("utf-8") for s in sentences.numpy()]
            batches.append(batch)
            return {"output": tf.constant([s.upper() + f"/{beam_width}" for s in batch])}
        return fn

    monkeypatch.setattr(task, "translate_fn", fake_translate_fn)
    rng = np.random.default_rng(0)
    sources = ["x" * int(n) + str(i) for i, n in enumerate(rng.integers(1, 60, size=600))]
    out = task.decode_all(object(), sources, 3)
    assert out == [s.upper() + "/3" for s in sources]
    assert [len(b) for b in batches] == [256, 256, 88]
    assert max(map(len, batches[0])) <= min(map(len, batches[1]))
    assert task.decode_all(object(), sources, 1, limit=10) == [
        s.upper() + "/1" for s in sources[:10]]


def test_alignment_is_the_attention_argmax_of_each_output_token(trained):
    """greedy_decode/beam_search(return_alignment=True) give, for each output token, the
    argmax of the attention weights of the step that emitted it (recomputed here step by
    step along the decoded tokens), and 0 after the row's end."""
    source, _, _ = reversal_batch(np.random.default_rng(11), 200)
    ids, aligned = trained.greedy_decode(source, MAX_LEN + 1, return_alignment=True)
    beam_ids, beam_aligned = trained.beam_search(source, MAX_LEN + 1, beam_width=1,
                                                 return_alignment=True)
    np.testing.assert_array_equal(beam_ids, ids)
    np.testing.assert_array_equal(beam_aligned, aligned)
    ids, aligned = ids.numpy(), aligned.numpy()
    memory, mask, states = trained.encode(tf.constant(source))
    keys = trained.attention.prepare(memory)
    y, expected = tf.fill([len(source)], BOS), []
    for t in range(MAX_LEN + 1):
        _, states, weights = trained._decoder_features(trained.embedding(y), states, memory,
                                                        keys, mask, return_weights=True)
        expected.append(np.argmax(weights.numpy(), -1))
        y = tf.constant(ids[:, t])
    expected = np.stack(expected, 1)
    ended = np.cumsum(ids == EOS, 1) - (ids == EOS) > 0      # steps after the EOS
    np.testing.assert_array_equal(aligned, np.where(ended, 0, expected))
    # reversal: token t of a length-n row comes from source position n-1-t; a one-way
    # encoder's state at n-t also holds it, so the attention may rest on either
    offsets = np.concatenate([aligned[i, :n] - (n - 1 - np.arange(n))
                              for i, n in enumerate((source != PAD).sum(1))])
    assert np.isin(offsets, [0, 1]).mean() >= 0.95, np.unique(offsets, return_counts=True)
    with pytest.raises(ValueError, match="return_alignment=True needs attention"):
        seq2seq.encoder_decoder(13, 9, units=8, attention=False).greedy_decode(
            np.ones((1, 3), np.int32), 4, return_alignment=True)


def test_unknown_output_words_copy_their_aligned_source_word():
    """eval.replace_unk: an [UNK] output token becomes the source token at its aligned
    position, as written (case kept); other tokens stay; a blank source has nothing."""
    from configs import translation
    from pipelines.tasks.seq2seq import Seq2SeqTask, UNK_ID
    config = translation.get_config("tiny")
    task = Seq2SeqTask(config)
    sentences = tf.constant(["Nací en Kioto en 1980.", "Hola", ""])
    ids = tf.constant([[5, 6, UNK_ID, 7, UNK_ID], [UNK_ID, 8, 2, 0, 0],
                       [UNK_ID, 2, 0, 0, 0]])
    aligned = tf.constant([[0, 1, 2, 3, 4], [0, 3, 0, 0, 0], [3, 0, 0, 0, 0]])
    tokens = tf.constant([["I", "was", "[UNK]", "in", "[UNK]"],
                          ["[UNK]", "there", "[EOS]", "[PAD]", "[PAD]"],
                          ["[UNK]", "[EOS]", "[PAD]", "[PAD]", "[PAD]"]])
    out = task.replace_unknown(ids, aligned, tokens, sentences).numpy().astype(str)
    assert out.tolist() == [["I", "was", "Kioto", "in", "1980"],
                            ["Hola", "there", "[EOS]", "[PAD]", "[PAD]"],
                            ["", "[EOS]", "[PAD]", "[PAD]", "[PAD]"]]
    config.model.attention = False
    with pytest.raises(ValueError, match="eval.replace_unk=True copies"):
        Seq2SeqTask(config)                            # before any training starts
