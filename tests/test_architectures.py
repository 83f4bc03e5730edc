"""Cells, heads, losses, builders and in-graph sampling (the architectures issue)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import rnn_tf
from rnn_tf import heads, models, sampling
from rnn_tf.sampling import Generator

RNG = np.random.default_rng(0)
B, T, X, H = 3, 6, 4, 5


# ---------------------------------------------------------------- GRU / LSTM cells
@pytest.mark.parametrize("cell,keras_cls", [("gru", keras.layers.GRU),
                                            ("lstm", keras.layers.LSTM)])
@pytest.mark.parametrize("masked", [False, True])
def test_gated_cells_match_keras(cell, keras_cls, masked):
    ours = rnn_tf.RNN(H, cell=cell, return_sequences=True)
    theirs = keras_cls(H, return_sequences=True, zero_output_for_mask=True)
    x = tf.constant(RNG.standard_normal((B, T, X)), tf.float32)
    ours(x)
    theirs(x)
    ours.set_weights([w + 0.1 * RNG.standard_normal(w.shape).astype(np.float32)
                      for w in theirs.get_weights()])
    theirs.set_weights(ours.get_weights())
    mask = tf.sequence_mask([6, 2, 4], T) if masked else None
    results = []
    for layer in (ours, theirs):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, mask=mask)
            loss = tf.reduce_sum(tf.sin(y))
        results.append([y] + tape.gradient(loss, [x] + layer.trainable_weights))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)


def test_lstm_return_state_gives_both_states():
    layer = rnn_tf.RNN(H, cell="lstm", return_state=True)
    out, a, c = layer(tf.ones([2, 3, X]))
    np.testing.assert_allclose(out, a)
    assert c.shape == (2, H)


# ---------------------------------------------------------------- heads and losses
def test_lecture_loss_matches_numpy_formula():
    logits = RNG.standard_normal((B, T, 7)).astype(np.float32)
    y = (RNG.random((B, T, 7)) > 0.5).astype(np.float32)
    mask = np.ones((B, T), bool)
    mask[1, 4:] = False
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    L_t = (-y * np.log(p) - (1 - y) * np.log(1 - p)).sum(-1)          # L<t>
    L = (L_t * mask).sum(-1)                                           # Σ_t L<t>
    np.testing.assert_allclose(heads.lecture_loss(y, logits, mask), L.mean(), rtol=1e-5)
    np.testing.assert_allclose(heads.lecture_loss(y, logits, mask, "mean_per_token"),
                               L.sum() / mask.sum(), rtol=1e-5)


def test_softmax_loss_and_metrics_match_numpy():
    logits = RNG.standard_normal((B, T, 5)).astype(np.float32)
    y = RNG.integers(0, 5, (B, T))
    mask = np.ones((B, T), bool)
    mask[2, 3:] = False
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, y[..., None], -1)[..., 0]
    nats = (nll * mask).sum() / mask.sum()
    np.testing.assert_allclose(heads.nats_per_token(y, logits, mask), nats, rtol=1e-5)
    np.testing.assert_allclose(heads.bits_per_char(y, logits, mask), nats / np.log(2),
                               rtol=1e-5)
    np.testing.assert_allclose(heads.perplexity(y, logits, mask), np.exp(nats), rtol=1e-5)
    np.testing.assert_allclose(heads.softmax_loss(y, logits, mask, "sum_over_time"),
                               (nll * mask).sum(-1).mean(), rtol=1e-5)
    acc = ((logits.argmax(-1) == y) * mask).sum() / mask.sum()
    np.testing.assert_allclose(heads.token_accuracy(y, logits, mask), acc, rtol=1e-6)
    pred = y.copy()
    pred[0, 0] = (pred[0, 0] + 1) % 5
    pred[2, 5] = (pred[2, 5] + 1) % 5                 # a padded step: does not count
    np.testing.assert_allclose(heads.exact_match(y, pred, mask), 2 / 3)


def test_sigmoid_head_with_lecture_loss_learns():
    """A tiny multi-label sequence task: output k at step t is 1 when x<t>[k] > 0."""
    model = models.one_to_many(4, 4, units=16)
    x = RNG.standard_normal((64, 8, 4)).astype(np.float32)
    y = (x > 0).astype(np.float32)
    opt = keras.optimizers.Adam(0.02)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = heads.lecture_loss(y, model(x), reduction="mean_per_token")
        grads = tape.gradient(loss, model.trainable_weights)
        opt.apply_gradients(zip(grads, model.trainable_weights))
        return loss
    first = float(step())
    for _ in range(150):
        last = float(step())
    assert last < 0.25 * first, (first, last)


# ---------------------------------------------------------------- builders
@pytest.mark.parametrize("kwargs", [
    dict(cell="vanilla"), dict(cell="gru"), dict(cell="lstm"),
    dict(num_layers=3, dropout=0.1, residual=True),
    dict(bidirectional=True, num_layers=2),
])
def test_many_to_many_shapes_and_one_step_trains_every_variable(kwargs):
    model = models.many_to_many(vocab_size=12, num_classes=7, units=8, pad_id=0, **kwargs)
    ids = tf.constant(RNG.integers(1, 12, (B, T)), tf.int32)
    ids = tf.concat([ids[:, :4], tf.zeros([B, 2], tf.int32)], 1)
    logits = model(ids)
    assert logits.shape == (B, T, 7) and logits.dtype == tf.float32
    labels = tf.constant(RNG.integers(0, 7, (B, T)), tf.int32)
    before = [w.numpy().copy() for w in model.trainable_weights]
    with tf.GradientTape() as tape:
        loss = heads.softmax_loss(labels, model(ids, training=True), ids != 0)
    grads = tape.gradient(loss, model.trainable_weights)
    keras.optimizers.SGD(0.1).apply_gradients(zip(grads, model.trainable_weights))
    for b, w in zip(before, model.trainable_weights):
        assert not np.allclose(b, w.numpy()), w.path


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", ["vanilla", "lstm"])
def test_many_to_one_is_padding_invariant(cell, bidirectional):
    model = models.many_to_one(vocab_size=20, num_classes=3, units=8, cell=cell,
                               bidirectional=bidirectional)
    ids = RNG.integers(1, 20, (B, 5)).astype(np.int32)
    padded = np.concatenate([ids, np.zeros((B, 20), np.int32)], 1)
    np.testing.assert_allclose(model(ids), model(padded), atol=1e-5)


def test_many_to_one_with_token_features_is_the_rnn_on_embedding_and_features():
    """[ids, features] -> the first RNN reads [Embedding(ids); features]; padding (and what
    the padded features hold) changes nothing; the features do change the output."""
    keras.utils.set_random_seed(0)
    model = models.many_to_one(vocab_size=20, num_classes=1, units=8, cell="gru",
                               bidirectional=True, token_features=2, embedding_dim=5)
    ids = RNG.integers(1, 20, (B, 5)).astype(np.int32)
    feats = RNG.standard_normal((B, 5, 2)).astype(np.float32)
    out = model([ids, feats])
    assert out.shape == (B, 1)
    padded = np.concatenate([ids, np.zeros((B, 4), np.int32)], 1)
    noise = RNG.standard_normal((B, 4, 2)).astype(np.float32)
    np.testing.assert_allclose(model([padded, np.concatenate([feats, noise], 1)]), out,
                               atol=1e-5)
    assert not np.allclose(model([ids, feats + 1.0]), out, atol=1e-3)
    # the same numbers from the layers by hand
    table = model.get_layer("embedding").get_weights()[0]
    assert table.shape == (20, 5)
    x = np.concatenate([table[ids], feats], -1)
    rnn = [layer for layer in model.layers if isinstance(layer, rnn_tf.Bidirectional)][0]
    want = model.get_layer("head")(rnn(tf.constant(x)))
    np.testing.assert_allclose(out, want, atol=1e-5)
    with pytest.raises(ValueError, match="token_features"):
        models.many_to_one(20, 1, token_features=-1)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul"])
def test_bidirectional_backward_reads_only_valid_part(merge_mode):
    layer = rnn_tf.Bidirectional(rnn_tf.RNN(H, return_sequences=True), merge_mode=merge_mode)
    x = RNG.standard_normal((2, 4, X)).astype(np.float32)
    padded = np.concatenate([x, RNG.standard_normal((2, 3, X)).astype(np.float32)], 1)
    y = layer(x)
    y_pad = layer(padded, lengths=tf.constant([4, 4]))
    np.testing.assert_allclose(y, y_pad[:, :4], atol=1e-6)
    # the backward half at step 0 has read the whole valid sequence, backwards
    back = rnn_tf.RNN(H, return_sequences=True)
    back(x)
    back.set_weights(layer.backward_layer.get_weights())
    fwd = layer.forward_layer(x)
    bwd = back(x[:, ::-1])[:, ::-1]
    want = {"concat": np.concatenate([fwd, bwd], -1), "sum": fwd + bwd,
            "ave": (fwd + bwd) / 2, "mul": fwd * bwd}[merge_mode]
    np.testing.assert_allclose(y, want, atol=1e-6)


def test_builder_and_head_bad_input():
    with pytest.raises(ValueError, match="Unknown cell 'rnn'"):
        models.many_to_many(10, 10, cell="rnn")
    with pytest.raises(ValueError, match="vocab_size"):
        models.many_to_many(0, 10)
    with pytest.raises(ValueError, match="Head activation"):
        rnn_tf.Head(3, activation="tanh")
    with pytest.raises(ValueError, match="does not take"):
        rnn_tf.RNN(4, cell="gru", activation="relu")
    with pytest.raises(ValueError, match="reduction"):
        heads.softmax_loss(tf.zeros([1, 2], tf.int32), tf.zeros([1, 2, 3]), reduction="avg")


# ---------------------------------------------------------------- sampling
def _lm():
    keras.utils.set_random_seed(1)
    return models.many_to_many(vocab_size=9, num_classes=9, units=16, num_layers=2)


def test_sampler_is_reproducible_with_seed_and_batches_are_independent(noise_kind):
    gen = Generator(_lm())
    prime = tf.constant([[1, 2, 3], [1, 2, 3]])
    a = gen.generate(prime, length=30, temperature=1.0, seed=5)
    b = gen.generate(prime, length=30, temperature=1.0, seed=5)
    c = gen.generate(prime, length=30, temperature=1.0, seed=6)
    assert a.shape == (2, 30)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a[0], a[1])            # independent samples per row


@pytest.fixture(params=["gumbel", "cdf"])
def noise_kind(request, monkeypatch):
    """Both ways the loop draws from the softmax: pre-drawn Gumbel noise (small
    length x batch x classes) and CDF inversion with one uniform per token (large)."""
    if request.param == "cdf":
        monkeypatch.setattr(sampling, "GUMBEL_MAX_ELEMENTS", 0)
    return request.param


def test_sampled_tokens_follow_the_softmax_of_the_model(noise_kind):
    """The loop's pre-drawn noise (Gumbel-max, or inverting the CDF) draws from
    softmax(logits / T): over 4,000 independent rows, each class's frequency is within 4
    standard errors."""
    model = _lm()
    gen = Generator(model)
    n, temperature = 4000, 0.7
    prime = np.tile(np.array([[4, 1, 7]], np.int32), (n, 1))
    first = gen.generate(prime, length=2, temperature=temperature, seed=11).numpy()[:, 0]
    logits = model(prime[:1]).numpy()[0, -1] / temperature
    p = np.exp(logits - logits.max())
    p /= p.sum()
    freq = np.bincount(first, minlength=p.size) / n
    np.testing.assert_array_less(np.abs(freq - p), 4 * np.sqrt(p * (1 - p) / n) + 1e-3)


def test_greedy_equals_argmax_of_the_model(noise_kind):
    model = _lm()
    gen = Generator(model)
    prime = np.array([[4, 1]], np.int32)
    out = gen.generate(prime, length=8, temperature=0.0, seed=3).numpy()
    seq = prime
    for _ in range(8):                               # argmax by re-running the full model
        nxt = model(seq).numpy()[:, -1].argmax(-1)[:, None].astype(np.int32)
        seq = np.concatenate([seq, nxt], 1)
    np.testing.assert_array_equal(out, seq[:, 2:])


def test_top_k_one_is_greedy_and_stop_id_stops(noise_kind):
    gen = Generator(_lm())
    prime = tf.constant([[2, 3]])
    greedy = gen.generate(prime, 10, temperature=0.0)
    np.testing.assert_array_equal(gen.generate(prime, 10, temperature=1.5, top_k=1, seed=9),
                                  greedy)
    stop = int(greedy[0, 2])
    stopped = gen.generate(prime, 10, temperature=0.0, stop_id=stop).numpy()
    assert stopped.shape[1] <= 10 and stopped[0, -1] == stop


def test_one_to_many_feeds_samples_back():
    keras.utils.set_random_seed(2)
    model = models.one_to_many(6, 6, units=8)
    gen = Generator(model)
    x0 = tf.constant(RNG.random((2, 6)) > 0.5, tf.float32)
    roll = gen.generate_from(x0, length=5, temperature=0.0).numpy()
    assert roll.shape == (2, 5, 6) and set(np.unique(roll)) <= {0.0, 1.0}
    inputs = np.concatenate([x0.numpy()[:, None], roll[:, :-1]], 1)
    np.testing.assert_array_equal((model(inputs).numpy() > 0).astype(np.float32), roll)


def test_sampler_bad_input():
    gen = Generator(_lm())
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        gen.generate(tf.constant([[1]]), 3, temperature=-1.0)
    with pytest.raises(ValueError, match=r"prime must be .*received shape \(1, 0\)"):
        gen.generate(tf.zeros([1, 0], tf.int32), 3)
    with pytest.raises(ValueError, match="bidirectional"):
        Generator(models.many_to_many(5, 5, units=4, bidirectional=True))


def test_language_model_output_dropout_trains_only():
    """output_dropout drops the top layer's output before the head in training only, and
    round-trips through get_config; out-of-range values are a ValueError."""
    model = models.LanguageModel(11, units=16, cell="gru", num_layers=2, output_dropout=0.5)
    ids = tf.constant(RNG.integers(0, 11, (4, 7)), tf.int32)
    infer = [model(ids, training=False)[0] for _ in range(2)]
    np.testing.assert_allclose(infer[0], infer[1])
    train = model(ids, training=True)[0]
    assert np.abs(train - infer[0]).max() > 1e-3
    plain = models.LanguageModel(11, units=16, cell="gru", num_layers=2)
    plain(ids)
    plain.set_weights(model.get_weights())
    np.testing.assert_allclose(plain(ids, training=True)[0], infer[0], atol=1e-6)
    assert models.LanguageModel.from_config(model.get_config()).output_dropout == 0.5
    with pytest.raises(ValueError, match="output_dropout must be in"):
        models.LanguageModel(11, output_dropout=1.0)


def test_language_model_output_dropout_mask_is_shared_across_time():
    model = models.LanguageModel(11, units=16, output_dropout=0.5)
    ids = tf.constant(RNG.integers(0, 11, (3, 9)), tf.int32)
    _, _, hidden = model(ids, return_hidden=True)
    dropped = model.drop_out(hidden, training=True)
    zero = np.asarray(dropped) == 0
    assert zero.any() and not zero.all()
    np.testing.assert_array_equal(zero, np.broadcast_to(zero[:, :1], zero.shape))


def test_gumbel_noise_is_used_while_it_is_small():
    """The loop pre-draws Gumbel noise only for a Python-int length with length x batch x
    classes at most GUMBEL_MAX_ELEMENTS (an unknown batch counts as 1)."""
    limit = sampling.GUMBEL_MAX_ELEMENTS
    assert sampling._predrawn_gumbel(2000, 1, 65)
    assert sampling._predrawn_gumbel(limit // 130, 2, 65)
    assert not sampling._predrawn_gumbel(limit // 130 + 1, 2, 65)
    assert sampling._predrawn_gumbel(5, None, 65)
    assert not sampling._predrawn_gumbel(tf.constant(5), None, 65)   # length at run time
    logits = tf.constant(RNG.standard_normal((3, 7)), tf.float32)
    noise = sampling.draw_gumbel([3, 7], tf.constant([1, 2]))
    np.testing.assert_array_equal(                      # T = 0: the argmax, noise or not
        sampling.sample_logits(logits, "softmax", 0.0, 0, None, gumbel=noise),
        np.argmax(logits, -1))
