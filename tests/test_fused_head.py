"""heads.fused_softmax_loss: the chunked head + softmax cross-entropy against a NumPy oracle."""

import numpy as np
import pytest
import tensorflow as tf

from rnn_tf import heads


def numpy_oracle(labels, a, W, b, mask, reduction):
    """Loss and its gradients w.r.t. a, W, b, written out: z = aW + b, p = softmax(z)."""
    a2 = a.reshape(-1, a.shape[-1]).astype(np.float64)
    y = labels.reshape(-1)
    m = np.ones(labels.shape) if mask is None else mask.astype(np.float64)
    if reduction == "sum_over_time":
        w = m / (labels.size / labels.shape[-1])
    else:
        w = m / max(m.sum(), 1.0)
    w = w.reshape(-1)
    z = a2 @ W + b
    z = z - z.max(1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    ce = -np.log(p[np.arange(len(y)), y])
    dz = p.copy()
    dz[np.arange(len(y)), y] -= 1.0
    dz *= w[:, None]
    return (w * ce).sum(), (dz @ W.T).reshape(a.shape), a2.T @ dz, dz.sum(0)


def data(shape=(3, 5), units=4, classes=7, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape + (units,)).astype(np.float32)
    W = rng.standard_normal((units, classes)).astype(np.float32)
    b = rng.standard_normal(classes).astype(np.float32)
    labels = rng.integers(0, classes, shape).astype(np.int32)
    mask = rng.random(shape) < 0.7
    return labels, a, W, b, mask


def loss_and_grads(labels, a, W, b, mask, reduction, chunk_rows, mode, scale=1.0):
    def f(a, W, b):
        with tf.GradientTape() as tape:
            tape.watch([a, W, b])
            loss = scale * heads.fused_softmax_loss(labels, a, W, b, mask, reduction,
                                                    chunk_rows)
        return (loss,) + tuple(tape.gradient(loss, [a, W, b]))
    if mode != "eager":
        f = tf.function(f, jit_compile=(mode == "xla"))
    return [np.asarray(t) for t in f(tf.constant(a), tf.constant(W), tf.constant(b))]


@pytest.mark.parametrize("mode", ["eager", "function", "xla"])
@pytest.mark.parametrize("reduction", ["mean_per_token", "sum_over_time"])
@pytest.mark.parametrize("chunk_rows", [None, 1, 4, 15, 64])  # 15 rows: 4 leaves a short chunk
def test_fused_loss_and_gradients_match_numpy_oracle(mode, reduction, chunk_rows):
    labels, a, W, b, mask = data()
    got = loss_and_grads(labels, a, W, b, mask, reduction, chunk_rows, mode, scale=3.0)
    want = numpy_oracle(labels, a, W, b, mask, reduction)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, 3.0 * w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(6,), (2, 3, 4)])
def test_fused_loss_equals_unfused_loss_and_its_autodiff(shape):
    labels, a, W, b, _ = data(shape, units=5, classes=11, seed=1)
    a, W, b = tf.constant(a), tf.constant(W), tf.constant(b)
    results = []
    for fused in (True, False):
        with tf.GradientTape() as tape:
            tape.watch([a, W, b])
            if fused:
                loss = heads.fused_softmax_loss(labels, a, W, b, chunk_rows=4)
            else:
                loss = heads.softmax_loss(labels, tf.tensordot(a, W, 1) + b)
        results.append([loss] + tape.gradient(loss, [a, W, b]))
    for f, u in zip(*results):
        np.testing.assert_allclose(f, u, rtol=1e-5, atol=1e-6)


def test_head_fused_loss_trains_the_head_like_the_unfused_loss():
    labels, a, _, _, mask = data((2, 9), units=6, classes=13, seed=2)
    head = heads.Head(13)
    a = tf.constant(a)
    grads = []
    for fused in (True, False):
        with tf.GradientTape() as tape:
            tape.watch(a)
            if fused:
                loss = head.fused_softmax_loss(labels, a, mask, "sum_over_time", chunk_rows=5)
            else:
                loss = heads.softmax_loss(labels, head(a), mask, "sum_over_time")
        grads.append(tape.gradient(loss, [a] + head.trainable_variables))
    assert len(grads[0]) == 3 and all(g is not None for g in grads[0])
    for f, u in zip(*grads):
        np.testing.assert_allclose(f, u, rtol=1e-5, atol=1e-6)


def test_fully_masked_batch_gives_zero_loss_and_gradients():
    labels, a, W, b, _ = data()
    mask = np.zeros(labels.shape, bool)
    for t in loss_and_grads(labels, a, W, b, mask, "mean_per_token", 4, "eager"):
        np.testing.assert_array_equal(t, np.zeros_like(t))


def test_fused_loss_bad_input():
    labels, a, W, b, _ = data()
    with pytest.raises(ValueError, match="reduction"):
        heads.fused_softmax_loss(labels, a, W, b, reduction="avg")
    with pytest.raises(ValueError, match="chunk_rows"):
        heads.fused_softmax_loss(labels, a, W, b, chunk_rows=0)
    with pytest.raises(ValueError, match="units axis"):
        heads.fused_softmax_loss(labels, a[..., 0], W, b)
    with pytest.raises(ValueError, match="kernel must be"):
        heads.fused_softmax_loss(labels, a, W[0], b)
    with pytest.raises(ValueError, match="softmax head"):
        heads.Head(3, activation="sigmoid").fused_softmax_loss(labels, a)


@pytest.mark.parametrize("chunk_rows", [None, 4])
def test_fused_loss_with_unknown_batch_and_time(chunk_rows):
    labels, a, W, b, mask = data()
    spec = tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None, 4], tf.float32)

    @tf.function(input_signature=spec)
    def f(labels, a):
        with tf.GradientTape() as tape:
            tape.watch(a)
            loss = heads.fused_softmax_loss(labels, a, W, b, chunk_rows=chunk_rows)
        return loss, tape.gradient(loss, a)
    loss, d_a = f(labels, a)
    want = numpy_oracle(labels, a, W, b, None, "mean_per_token")
    np.testing.assert_allclose(loss, want[0], rtol=1e-5)
    np.testing.assert_allclose(d_a, want[1], rtol=1e-5, atol=1e-6)
