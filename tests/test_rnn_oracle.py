"""rnn_tf.RNN against the NumPy oracle: outputs and every gradient, within 1e-5, for tanh
and relu, masked, reversed and stacked, eagerly, under tf.function (the time loops
XLA-compiled on their own, the default for static shapes, and as TensorFlow while-loops;
the batch unrolled whole and in uneven pieces) and under XLA."""

import itertools
import zlib

import numpy as np
import pytest
import tensorflow as tf

import rnn_tf
from tests import rnn_oracle

B, T, X, H = 3, 6, 4, 5


def _weights(seed, scale=0.5):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((X, H)) * scale, rng.standard_normal((H, H)) * scale,
            rng.standard_normal(H) * 0.1)


def _mask(rng):
    mask = rng.random((B, T)) > 0.3
    mask[0] = True                          # a full row
    mask[1] = False                         # an all-padding row: gives a<0>
    return mask


def _run(layer, x, a0, mask, d_out, d_final, mode):
    """Loss = <outputs, d_out> + <final, d_final>, so dL/doutputs = d_out etc."""
    def loss_and_grads(x, a0):
        with tf.GradientTape() as tape:
            tape.watch([x, a0])
            out, final = layer(x, initial_state=a0, mask=mask)
            loss = tf.reduce_sum(out * d_out) + tf.reduce_sum(final * d_final)
        return (out, final) + tuple(
            tape.gradient(loss, [x, a0] + layer.trainable_weights))

    if mode == "eager":
        tf.config.run_functions_eagerly(True)
        try:
            return loss_and_grads(x, a0)
        finally:
            tf.config.run_functions_eagerly(False)
    if mode == "layer_call":                   # eager caller; the layer's own tf.function
        return loss_and_grads(x, a0)
    return tf.function(loss_and_grads, jit_compile=(mode == "xla"))(x, a0)


MODES = ["eager", "layer_call", "function", "function_tf_loops", "function_shards", "xla"]
CASES = list(itertools.product(["tanh", "relu"], [False, True], [False, True],
                               [False, True], MODES))


def _seed(*case):
    """A seed fixed by the test case (crc32 of its repr: the same in every process, unlike
    hash() of strings), so a failure reproduces."""
    return zlib.crc32(repr(case).encode())


def _modes(mode):
    """function_tf_loops: tf.function with the loops left to TensorFlow's executor;
    function_shards: the batch of 3 unrolled as pieces of 2 and 1 rows."""
    return {"jit_loops": False if mode == "function_tf_loops" else None,
            "batch_shards": 2 if mode == "function_shards" else None}


@pytest.mark.parametrize("act,masked,backwards,stacked,mode", CASES)
def test_matches_numpy_oracle(act, masked, backwards, stacked, mode):
    rng = np.random.default_rng(_seed(act, masked, backwards, stacked))
    W_ax, W_aa, b_a = _weights(1)
    x = rng.standard_normal((B, T, X))
    a0 = rng.standard_normal((B, H)) * 0.3
    mask = _mask(rng) if masked else None
    d_out, d_final = rng.standard_normal((B, T, H)), rng.standard_normal((B, H))

    layer = rnn_tf.RNN(H, activation=act, stacked=stacked, go_backwards=backwards,
                       return_sequences=True, return_state=True, **_modes(mode))
    layer.build((None, None, X))
    layer.set_weights([w.astype(np.float32) for w in (W_ax, W_aa, b_a)])
    assert layer.implementation.fused
    f32 = lambda a: tf.constant(a, tf.float32)
    got = _run(layer, f32(x), f32(a0), None if mask is None else tf.constant(mask),
               f32(d_out), f32(d_final), mode)

    out, final, states = rnn_oracle.forward(x, W_ax, W_aa, b_a, a0, mask, act, backwards)
    grads = rnn_oracle.backward(x, W_ax, W_aa, states, d_out, d_final, act)
    want = [out, final, grads["x"], grads["a0"], grads["W_ax"], grads["W_aa"], grads["b_a"]]
    names = ["outputs", "final_state", "dx", "da0", "dW_ax", "dW_aa", "db_a"]
    for name, g, w in zip(names, got, want):
        np.testing.assert_allclose(np.asarray(g), w, atol=1e-5, rtol=1e-5, err_msg=name)


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_token_ids_equal_one_hot_product(act):
    """W_ax x with one-hot x is the row W_ax[id]: the gather path equals the product."""
    V = 11
    rng = np.random.default_rng(0)
    ids = rng.integers(0, V, (B, T)).astype(np.int32)
    dense = rnn_tf.RNN(H, activation=act, return_sequences=True)
    sparse = rnn_tf.RNN(H, activation=act, input_dim=V, return_sequences=True)
    one_hot = tf.one_hot(ids, V)
    dense(one_hot)
    sparse(ids)
    sparse.set_weights(dense.get_weights())
    d = tf.constant(rng.standard_normal((B, T, H)), tf.float32)
    results = []
    for layer, x in ((dense, one_hot), (sparse, tf.constant(ids))):
        with tf.GradientTape() as tape:
            y = layer(x)
            loss = tf.reduce_sum(y * d)
        grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, layer.trainable_weights)]
        results.append([y] + grads)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_stacked_equals_split_form():
    rng = np.random.default_rng(3)
    x = tf.constant(rng.standard_normal((B, T, X)), tf.float32)
    split = rnn_tf.RNN(H, return_sequences=True)
    stacked = rnn_tf.RNN(H, stacked=True, return_sequences=True)
    split(x)
    stacked(x)
    stacked.set_weights(split.get_weights())
    for layer in (split, stacked):
        with tf.GradientTape() as tape:
            layer._y = layer(x)
            loss = tf.reduce_sum(tf.sin(layer._y))
        layer._g = tape.gradient(loss, layer.trainable_weights)
    # equal up to float32 rounding: the two forms sum the same products in another order
    np.testing.assert_allclose(split._y, stacked._y, atol=1e-5, rtol=1e-5)
    for a, b in zip(split._g, stacked._g):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)


def test_generic_unroll_matches_fused():
    """An activation without a fused kernel falls back to autodiff: same numbers for the
    same function (tanh written as a lambda)."""
    rng = np.random.default_rng(4)
    x = tf.constant(rng.standard_normal((B, T, X)), tf.float32)
    mask = tf.constant(_mask(rng))
    fused = rnn_tf.RNN(H, return_sequences=True)
    generic = rnn_tf.RNN(H, activation=lambda z: tf.tanh(z), return_sequences=True)
    assert fused.implementation.fused and not generic.implementation.fused
    fused(x)
    generic(x)
    generic.set_weights(fused.get_weights())
    res = []
    for layer in (fused, generic):
        with tf.GradientTape() as tape:
            y = layer(x, mask=mask)
            loss = tf.reduce_sum(y * y)
        res.append([y] + tape.gradient(loss, layer.trainable_weights))
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_finite_differences_float64():
    rng = np.random.default_rng(5)
    layer = rnn_tf.RNN(3, return_sequences=True, dtype="float64")
    x = tf.constant(rng.standard_normal((2, 4, 2)))
    mask = tf.constant([[True, True, False, True], [False, True, True, True]])
    layer(x)
    d = tf.constant(rng.standard_normal((2, 4, 3)))

    def loss():
        return tf.reduce_sum(layer(x, mask=mask) * d)

    with tf.GradientTape() as tape:
        value = loss()
    grads = tape.gradient(value, layer.trainable_weights)
    eps = 1e-6
    for var, grad in zip(layer.trainable_weights, grads):
        flat = var.numpy().reshape(-1)
        numeric = np.zeros_like(flat)
        for i in range(flat.size):
            for sign in (1, -1):
                bumped = flat.copy()
                bumped[i] += sign * eps
                var.assign(bumped.reshape(var.shape))
                numeric[i] += sign * float(loss()) / (2 * eps)
            var.assign(flat.reshape(var.shape))
        np.testing.assert_allclose(np.asarray(grad).reshape(-1), numeric, atol=1e-7,
                                   rtol=1e-6, err_msg=var.path)


GRU_CASES = list(itertools.product([False, True], [False, True],
                                   ["eager", "function", "function_tf_loops",
                                    "function_shards", "function_tf_forward", "xla"]))


@pytest.mark.parametrize("masked,backwards,mode", GRU_CASES)
def test_gru_matches_numpy_oracle(masked, backwards, mode, monkeypatch):
    """The GRU's fused BPTT kernel against the NumPy GRU oracle: outputs, final state and
    the gradients of x, a<0> and every weight. function_tf_forward: the forward loop left
    to TensorFlow and the backward loop compiled, as `device.compile_gru_forward` has it
    for large pieces."""
    if mode == "function_tf_forward":
        from rnn_tf import device
        monkeypatch.setattr(device, "compile_gru_forward", lambda rows, units: False)
        mode = "function"
    rng = np.random.default_rng(_seed("gru", masked, backwards))
    W = rng.standard_normal((X, 3 * H)) * 0.5
    U = rng.standard_normal((H, 3 * H)) * 0.5
    b, c = rng.standard_normal(3 * H) * 0.1, rng.standard_normal(3 * H) * 0.1
    x = rng.standard_normal((B, T, X))
    a0 = rng.standard_normal((B, H)) * 0.3
    mask = _mask(rng) if masked else None
    d_out, d_final = rng.standard_normal((B, T, H)), rng.standard_normal((B, H))

    layer = rnn_tf.RNN(H, cell="gru", go_backwards=backwards, return_sequences=True,
                       return_state=True, **_modes(mode))
    layer.build((None, None, X))
    layer.set_weights([w.astype(np.float32) for w in (W, U, np.stack([b, c]))])
    assert layer.implementation.fused
    f32 = lambda a: tf.constant(a, tf.float32)
    got = _run(layer, f32(x), f32(a0), None if mask is None else tf.constant(mask),
               f32(d_out), f32(d_final), mode)

    out, final, cache = rnn_oracle.gru_forward(x, W, U, b, c, a0, mask, backwards)
    grads = rnn_oracle.gru_backward(x, W, U, cache, d_out, d_final)
    want = [out, final, grads["x"], grads["a0"], grads["W"], grads["U"],
            np.stack([grads["b"], grads["c"]])]
    names = ["outputs", "final_state", "dx", "da0", "dkernel", "drecurrent_kernel", "dbias"]
    for name, g, w in zip(names, got, want):
        np.testing.assert_allclose(np.asarray(g), w, atol=1e-5, rtol=1e-5, err_msg=name)


@pytest.mark.parametrize("jit", [False, True])
def test_gru_fused_matches_autodiff_unroll(jit):
    """The same GRU run by the generic while-loop unroll and TF autodiff: same numbers,
    with token ids, a mask and an initial state, without and with XLA."""
    from rnn_tf import device
    V = 9
    rng = np.random.default_rng(7)
    ids = tf.constant(rng.integers(0, V, (B, T)), tf.int32)
    mask = tf.constant(_mask(rng))
    a0 = tf.constant(rng.standard_normal((B, H)), tf.float32)
    fused = rnn_tf.RNN(H, cell="gru", input_dim=V, return_sequences=True)
    generic = rnn_tf.RNN(H, cell="gru", input_dim=V, return_sequences=True)
    fused(ids)
    generic(ids)
    generic._implementation = device.Implementation(False, "test: force autodiff")
    generic.set_weights([w + 0.3 * rng.standard_normal(w.shape).astype(np.float32)
                         for w in fused.get_weights()])
    fused.set_weights(generic.get_weights())

    def run(layer):
        with tf.GradientTape() as tape:
            tape.watch(a0)
            y = layer(ids, initial_state=a0, mask=mask)
            loss = tf.reduce_sum(tf.sin(y))
        return [y] + [tf.convert_to_tensor(g) for g in
                      tape.gradient(loss, [a0] + layer.trainable_weights)]

    res = [tf.function(run, jit_compile=jit)(layer) for layer in (fused, generic)]
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)


def test_gru_forward_is_compiled_for_small_pieces_only():
    """device.compile_gru_forward: compiled below 16 rows or 4096 rows x units (XLA's
    cheap steps pay), a TensorFlow loop above (its elementwise kernels pay); an unknown
    batch stays compiled. The layer's compiled kernels follow it."""
    from rnn_tf import bptt, device
    assert device.compile_gru_forward(8, 1024) and device.compile_gru_forward(16, 128)
    assert device.compile_gru_forward(None, 1024)
    assert not device.compile_gru_forward(16, 256) and not device.compile_gru_forward(64, 64)
    if device.gpu_available():
        pytest.skip("auto is off on a GPU machine")
    for rows, units, compiled in ((4, 8, True), (32, 128, False)):
        bptt._COMPILED.clear()
        layer = rnn_tf.RNN(units, cell="gru", return_sequences=True, batch_shards=1)
        x = tf.zeros([rows, 3, 5])
        tf.function(lambda x: tf.gradients(tf.reduce_sum(layer(x)), x))(x)
        assert (bptt._gru_forward in bptt._COMPILED) is compiled
        assert bptt._gru_backward in bptt._COMPILED


def test_loops_are_compiled_when_the_time_length_is_static():
    """device.compile_loops: auto compiles the loops inside a graph with a static time
    length (no GPU here), not eagerly, not for a length known only at run time and not in
    bfloat16; True and False force it. A static-length tf.function then calls the compiled kernels."""
    from rnn_tf import bptt, device
    if device.gpu_available():
        pytest.skip("auto is off on a GPU machine")
    assert device.compile_loops(True, None) and not device.compile_loops(False, 7)
    assert not device.compile_loops(None, 7)                 # eager
    seen = []
    tf.function(lambda: seen.append((device.compile_loops(None, 7),
                                     device.compile_loops(None, None),
                                     device.compile_loops(None, 7, "float16"),
                                     device.compile_loops(None, 7, "bfloat16"))))()
    assert seen == [(True, False, True, False)]      # bfloat16: TensorFlow's kernels
    bptt._COMPILED.clear()
    layer = rnn_tf.RNN(H, return_sequences=True)
    x = tf.zeros([B, T, X])
    tf.function(lambda x: layer(x))(x)
    assert bptt._vanilla_forward in bptt._COMPILED
    bptt._COMPILED.clear()
    tf.function(lambda x: layer(x), input_signature=[tf.TensorSpec([None, None, X])])(x)
    assert not bptt._COMPILED                                # unknown length: TF loops
    with pytest.raises(ValueError, match="jit_loops must be None"):
        rnn_tf.RNN(H, jit_loops="yes")


def test_batch_shards_decision_rule():
    """device.shard_sizes: auto splits a static batch into one piece per core (>= 8 rows
    each) only when the loops are compiled, inside a graph and outside a caller's XLA
    function; an int forces uneven pieces; an unknown batch stays whole."""
    from rnn_tf import device
    n = min(device.cpu_cores(), 32 // device.MIN_SHARD_ROWS)
    seen = {}
    tf.function(lambda: seen.update(graph=device.shard_sizes(None, 32, True),
                                    not_compiled=device.shard_sizes(None, 32, False),
                                    small=device.shard_sizes(None, 9, True)))()
    tf.function(lambda: seen.update(xla=device.shard_sizes(None, 32, True)),
                jit_compile=True)()
    assert seen["graph"] == [32 // n] * n
    assert seen["not_compiled"] == seen["xla"] == [32]
    assert seen["small"] == [9]                                       # < 8 rows a piece
    assert device.shard_sizes(None, 32, True) == [32]                 # eager
    assert device.shard_sizes(3, 7, False) == [3, 2, 2]
    assert device.shard_sizes(5, 2, True) == [1, 1]
    assert device.shard_sizes(2, None, True) == [None]
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="batch_shards must be None"):
            rnn_tf.RNN(H, batch_shards=bad)


@pytest.mark.parametrize("cell,stacked", [("vanilla", False), ("vanilla", True),
                                          ("gru", False)])
def test_batch_pieces_equal_one_piece(cell, stacked):
    """Token ids (one-hot floats for the stacked form), a mask, an initial state and
    go_backwards: four uneven pieces of a batch of 10 give the outputs, final state and
    every gradient of the whole batch."""
    V, Bt = 9, 10
    rng = np.random.default_rng(3)
    ids = tf.constant(rng.integers(0, V, (Bt, T)), tf.int32)
    if stacked:
        ids = tf.one_hot(ids, V)
    mask = tf.constant(rng.random((Bt, T)) > 0.3)
    a0 = tf.constant(rng.standard_normal((Bt, H)), tf.float32)
    kw = dict(cell=cell, input_dim=None if stacked else V, return_sequences=True, return_state=True,
              go_backwards=True, **({"stacked": stacked} if cell == "vanilla" else {}))
    layers = [rnn_tf.RNN(H, batch_shards=n, **kw) for n in (1, 4)]
    for layer in layers:
        layer(ids)
    pieces = []
    unroll_piece = layers[1]._unroll_piece
    layers[1]._unroll_piece = lambda x, *a: pieces.append(x.shape[0]) or unroll_piece(x, *a)
    layers[1].set_weights(layers[0].get_weights())
    res = []
    for layer in layers:
        @tf.function
        def run(a0):
            with tf.GradientTape() as tape:
                tape.watch(a0)
                y, final = layer(ids, initial_state=a0, mask=mask)
                loss = tf.reduce_sum(tf.sin(y)) + tf.reduce_sum(final ** 2)
            return [y, final] + [tf.convert_to_tensor(g) for g in
                                 tape.gradient(loss, [a0] + layer.trainable_weights)]
        res.append(run(a0))
    assert pieces == [3, 3, 2, 2]
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)
