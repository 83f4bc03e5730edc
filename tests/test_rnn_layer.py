"""rnn_tf.RNN as a Keras layer: parity with SimpleRNN, masks, state, retracing, saving,
converters, mixed precision, placement and bad input."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import rnn_tf
from rnn_tf import convert

B, T, X, H = 4, 7, 5, 6
RNG = np.random.default_rng(0)


def _pair(**kwargs):
    """An rnn_tf.RNN and a keras SimpleRNN with the same weights."""
    ours = rnn_tf.RNN(H, **kwargs)
    theirs = keras.layers.SimpleRNN(H, **kwargs)
    x = tf.zeros([1, 2, X])
    ours(x)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def _value_and_grads(layer, x, **call_kwargs):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, **call_kwargs)
        loss = tf.reduce_sum(tf.sin(y))
    return [y] + tape.gradient(loss, [x] + layer.trainable_weights)


@pytest.mark.parametrize("kwargs", [
    dict(return_sequences=True),
    dict(return_sequences=False),
    dict(return_sequences=True, activation="relu"),
    dict(return_sequences=True, go_backwards=True),
])
def test_parity_with_keras_simple_rnn(kwargs):
    ours, theirs = _pair(**kwargs)
    x = tf.constant(RNG.standard_normal((B, T, X)), tf.float32)
    for a, b in zip(_value_and_grads(ours, x), _value_and_grads(theirs, x)):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)


def test_parity_with_keras_masked():
    """Keras with zero_output_for_mask=True has the same padded-step rule: keep the state,
    output zeros."""
    ours = rnn_tf.RNN(H, return_sequences=True)
    theirs = keras.layers.SimpleRNN(H, return_sequences=True, zero_output_for_mask=True)
    ours(tf.zeros([1, 2, X]))
    theirs(tf.zeros([1, 2, X]))
    theirs.set_weights(ours.get_weights())
    x = tf.constant(RNG.standard_normal((B, T, X)), tf.float32)
    mask = tf.sequence_mask([7, 3, 5, 1], T)
    for a, b in zip(_value_and_grads(ours, x, mask=mask),
                    _value_and_grads(theirs, x, mask=mask)):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)


def test_lengths_equal_mask_and_all_padding_row_gives_initial_state():
    layer = rnn_tf.RNN(H, return_sequences=True, return_state=True)
    x = tf.constant(RNG.standard_normal((3, T, X)), tf.float32)
    a0 = tf.constant(RNG.standard_normal((3, H)), tf.float32)
    lengths = tf.constant([7, 0, 4])
    y1, s1 = layer(x, initial_state=a0, lengths=lengths)
    y2, s2 = layer(x, initial_state=a0, mask=tf.sequence_mask(lengths, T))
    np.testing.assert_allclose(y1, y2)
    np.testing.assert_allclose(s1, s2)
    np.testing.assert_allclose(s1[1], a0[1])          # all padding: a<0>
    np.testing.assert_array_equal(y1[1], 0.0)         # padded steps output zeros
    np.testing.assert_array_equal(y1[2, 4:], 0.0)


@pytest.mark.parametrize("mode", ["eager", "function", "unknown_shape", "jit_compile"])
@pytest.mark.parametrize("kwargs", [{}, {"cell": "gru"}, {"cell": "lstm"}, {"stacked": True},
                                    {"go_backwards": True}, {"jit_loops": True}])
def test_sequence_of_length_zero_ends_in_initial_state(kwargs, mode):
    """T = 0 (e.g. a batch of empty strings): outputs <float>[B, 0, H], the state a<0>,
    zero gradients; and an empty batch (B = 0) works too."""
    layer = rnn_tf.RNN(H, return_sequences=True, return_state=True, **kwargs)
    layer.build((None, None, X))

    def run(x, a0):
        with tf.GradientTape() as tape:
            tape.watch([x, a0])
            y, *state = layer(x, initial_state=[a0] * (2 if layer.cell_name == "lstm" else 1))
            loss = tf.reduce_sum(y) + tf.reduce_sum(state[0])
        return (y, state[0]), tape.gradient(loss, [x, a0] + layer.trainable_variables)

    if mode == "function":
        run = tf.function(run)
    elif mode == "unknown_shape":
        run = tf.function(run, input_signature=[tf.TensorSpec([None, None, X]),
                                                tf.TensorSpec([None, H])])
    elif mode == "jit_compile":
        run = tf.function(run, jit_compile=True)
    for batch, time in [(3, 0), (0, 5), (0, 0)]:
        a0 = tf.constant(RNG.standard_normal((batch, H)), tf.float32)
        (y, final), grads = run(tf.zeros([batch, time, X]), a0)
        assert y.shape == (batch, time, H)
        np.testing.assert_array_equal(final, a0)
        if time == 0:                      # the state's own gradient; nothing else reached
            np.testing.assert_array_equal(grads[1], np.ones((batch, H)))
            for g, v in zip(grads[2:], layer.trainable_variables):
                np.testing.assert_array_equal(g if g is not None else 0.0,
                                              np.zeros(v.shape))


def test_left_and_right_padding_agree_on_valid_steps():
    layer = rnn_tf.RNN(H, return_sequences=True, return_state=True)
    valid = RNG.standard_normal((2, 4, X)).astype(np.float32)
    pad = np.zeros((2, 3, X), np.float32)
    right = np.concatenate([valid, pad], 1)
    left = np.concatenate([pad, valid], 1)
    m_right = tf.constant([[True] * 4 + [False] * 3] * 2)
    m_left = tf.constant([[False] * 3 + [True] * 4] * 2)
    yr, sr = layer(right, mask=m_right)
    yl, sl = layer(left, mask=m_left)
    np.testing.assert_allclose(yr[:, :4], yl[:, 3:], atol=1e-6)
    np.testing.assert_allclose(sr, sl, atol=1e-6)


def test_keras_mask_from_embedding_is_used():
    ids = tf.constant([[3, 4, 0, 0], [5, 0, 0, 0]])
    emb = keras.layers.Embedding(10, X, mask_zero=True)
    layer = rnn_tf.RNN(H, return_sequences=True)
    model_out = layer(emb(ids))
    direct = layer(emb(ids), mask=tf.not_equal(ids, 0))
    np.testing.assert_allclose(model_out, direct)
    np.testing.assert_array_equal(model_out[1, 1:], 0.0)


def test_new_sequence_length_does_not_retrace():
    layer = rnn_tf.RNN(H, return_sequences=True)
    for t in (3, 8, 21, 2):
        layer(tf.zeros([2 + t % 3, t, X]))
        layer(tf.zeros([2, t, X]), mask=tf.ones([2, t], tf.bool))
    counts = [f.experimental_get_tracing_count() for f in layer._eager_cache.functions.values()]
    assert counts == [1, 1], counts                  # one graph without, one with a mask


def test_stateful_carries_state_and_reset_clears_it():
    x = tf.constant(RNG.standard_normal((2, 8, X)), tf.float32)
    full = rnn_tf.RNN(H, return_sequences=True)
    stateful = rnn_tf.RNN(H, return_sequences=True, stateful=True)
    full(x)
    stateful(x[:, :4])
    stateful.set_weights(full.get_weights())
    stateful.reset_state()
    y = tf.concat([stateful(x[:, :4]), stateful(x[:, 4:])], 1)
    np.testing.assert_allclose(y, full(x), atol=1e-6)
    stateful.reset_state()
    np.testing.assert_array_equal(stateful.state[0].numpy(), 0.0)
    np.testing.assert_allclose(stateful(x[:, :4]), full(x[:, :4]), atol=1e-6)


def test_stateful_training_truncates_gradient_at_chunk_boundary():
    """Truncated BPTT: the second chunk's gradient is that of a run that starts from the
    carried state as a constant, and differs from full BPTT through both chunks."""
    layer = rnn_tf.RNN(H, stateful=True)
    x1 = tf.constant(RNG.standard_normal((2, 4, X)), tf.float32)
    x2 = tf.constant(RNG.standard_normal((2, 4, X)), tf.float32)
    layer(x1)
    carried = tf.constant(layer.state[0])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x2))
    truncated = tape.gradient(loss, layer.trainable_weights)
    assert all(w is not s for w in layer.weights for s in layer.state)
    ref = rnn_tf.RNN(H)
    ref(x1)
    ref.set_weights(layer.get_weights())
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(ref(x2, initial_state=carried))
    from_constant = tape.gradient(loss, ref.trainable_weights)
    whole = rnn_tf.RNN(H)                 # the same a<T> of chunk 2, through both chunks
    whole(x1)
    whole.set_weights(layer.get_weights())
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(whole(tf.concat([x1, x2], 1)))
    through_both = tape.gradient(loss, whole.trainable_weights)
    for a, b in zip(truncated, from_constant):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert any(not np.allclose(a, b, rtol=1e-3, atol=1e-5)
               for a, b in zip(truncated, through_both))


def test_xla_jit_compile():
    layer = rnn_tf.RNN(H, return_sequences=True)
    x = tf.constant(RNG.standard_normal((B, T, X)), tf.float32)
    eager = layer(x)
    np.testing.assert_allclose(tf.function(layer, jit_compile=True)(x), eager, atol=1e-6)


@pytest.mark.parametrize("graph,jit_loops", [(False, None), (True, None), (True, True)])
@pytest.mark.parametrize("cell", ["vanilla", "gru"])
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy, cell, graph, jit_loops):
    """Eagerly (TensorFlow loops), in a static-shape tf.function (auto: XLA-compiled loops,
    except in bfloat16) and with the loops' compilation forced (jit_loops=True)."""
    x = RNG.standard_normal((B, T, X)).astype(np.float32)
    ref = rnn_tf.RNN(H, cell=cell, return_sequences=True)
    want = ref(x)
    keras.mixed_precision.set_dtype_policy(policy)
    try:
        layer = rnn_tf.RNN(H, cell=cell, return_sequences=True, jit_loops=jit_loops)
        layer(x)
        layer.set_weights(ref.get_weights())

        def run(x):
            with tf.GradientTape() as tape:
                y = layer(x)
                loss = tf.reduce_sum(tf.cast(y, tf.float32) ** 2)
            return y, tape.gradient(loss, layer.trainable_weights)
        y, grads = tf.function(run)(tf.constant(x)) if graph else run(x)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert y.dtype == tf.dtypes.as_dtype(policy.split("_")[1])
    assert all(v.dtype == tf.float32 for v in layer.trainable_weights)
    np.testing.assert_allclose(tf.cast(y, tf.float32), want, atol=0.05)
    assert all(np.isfinite(g.numpy()).all() and g.dtype == tf.float32 for g in grads)


def test_get_config_round_trip():
    layer = rnn_tf.RNN(H, activation="relu", input_dim=9, return_sequences=True,
                       return_state=True, go_backwards=True,
                       kernel_regularizer=keras.regularizers.L2(0.01),
                       recurrent_initializer="glorot_normal", jit_loops=False,
                       batch_shards=3, name="rnn_x")
    clone = rnn_tf.RNN.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert (clone.jit_loops, clone.batch_shards) == (False, 3)


def test_keras_file_save_and_load(tmp_path):
    model = keras.Sequential([keras.Input((None, X)), rnn_tf.RNN(H, return_sequences=True),
                              keras.layers.Dense(3)])
    x = RNG.standard_normal((B, T, X)).astype(np.float32)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-6)
    assert isinstance(loaded.layers[0], rnn_tf.RNN)


def test_keras_fit_trains_every_weight():
    model = keras.Sequential([keras.Input((None,), dtype="int32"),
                              rnn_tf.RNN(H, input_dim=10, return_sequences=True),
                              keras.layers.Dense(10)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ids = RNG.integers(0, 10, (8, T))
    before = [w.numpy().copy() for w in model.trainable_weights]
    model.fit(ids, np.roll(ids, 1, axis=1), epochs=1, verbose=0)
    for b, w in zip(before, model.trainable_weights):
        assert not np.allclose(b, w.numpy()), w.path


def test_cell_works_under_keras_rnn():
    cell = rnn_tf.VanillaCell(H)
    x = tf.constant(RNG.standard_normal((B, T, X)), tf.float32)
    y = keras.layers.RNN(cell, return_sequences=True)(x)
    ours = rnn_tf.RNN(H, return_sequences=True)
    ours(x)
    ours.set_weights(cell.get_weights())
    np.testing.assert_allclose(y, ours(x), atol=1e-6)


# ---------------------------------------------------------------- converters
def test_keras_converter_round_trip():
    ours, theirs = _pair(return_sequences=True)
    w = convert.from_keras_simple_rnn(theirs.get_weights())
    for a, b in zip(w, ours.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(convert.to_keras_simple_rnn(w), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_torch_state_dict_converter_matches_torch_formula():
    """torch.nn.RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (its docs)."""
    sd = {"weight_ih_l0": RNG.standard_normal((H, X)), "weight_hh_l0": RNG.standard_normal(
        (H, H)) * 0.3, "bias_ih_l0": RNG.standard_normal(H), "bias_hh_l0": RNG.standard_normal(H)}
    x = RNG.standard_normal((B, T, X))
    h = np.zeros((B, H))
    torch_out = []
    for t in range(T):
        h = np.tanh(x[:, t] @ sd["weight_ih_l0"].T + sd["bias_ih_l0"]
                    + h @ sd["weight_hh_l0"].T + sd["bias_hh_l0"])
        torch_out.append(h)
    layer = rnn_tf.RNN(H, return_sequences=True)
    layer(tf.zeros([1, 1, X]))
    layer.set_weights([w.astype(np.float32) for w in convert.from_torch_state_dict(sd)])
    np.testing.assert_allclose(layer(x.astype(np.float32)), np.stack(torch_out, 1),
                               atol=1e-5)
    back = convert.to_torch_state_dict(layer.get_weights())
    np.testing.assert_allclose(back["weight_ih_l0"], sd["weight_ih_l0"], atol=1e-6)
    np.testing.assert_allclose(back["bias_ih_l0"] + back["bias_hh_l0"],
                               sd["bias_ih_l0"] + sd["bias_hh_l0"], atol=1e-6)


def test_converter_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="weight_hh_l0"):
        convert.from_torch_state_dict({"weight_ih_l0": np.zeros((3, 2)),
                                       "weight_hh_l0": np.zeros((3, 4))})
    with pytest.raises(ValueError, match="3 arrays"):
        convert.from_keras_simple_rnn([np.zeros((2, 3))])


# ---------------------------------------------------------------- placement
def test_no_device_string_in_library():
    root = os.path.join(os.path.dirname(__file__), "..", "rnn_tf")
    for name in os.listdir(root):
        if name.endswith(".py"):
            text = open(os.path.join(root, name)).read()
            assert "/gpu:" not in text.lower() and "/cpu:" not in text.lower(), name


@pytest.mark.gpu
@pytest.mark.skipif(not tf.config.list_logical_devices("GPU"),
                    reason="no GPU visible: CPU/GPU agreement needs one")
def test_cpu_and_gpu_agree():
    x = tf.constant(RNG.standard_normal((B, T, X)), tf.float32)
    layer = rnn_tf.RNN(H, return_sequences=True)
    layer(x)
    results = []
    for dev in ("CPU:0", "GPU:0"):
        with tf.device(dev):
            mask = tf.sequence_mask([7, 3, 5, 0], T)
            results.append(_value_and_grads(layer, x, mask=mask))
            assert dev in results[-1][0].device
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("make,call,match", [
    (lambda: rnn_tf.RNN(0), None, r"units=0"),
    (lambda: rnn_tf.RNN(-3), None, r"units=-3"),
    (lambda: rnn_tf.RNN(4, activation="nope"), None, r"'nope'"),
    (lambda: rnn_tf.RNN(4, cell="quantum"), None, r"'quantum'"),
    (lambda: rnn_tf.RNN(4, input_dim=0), None, r"input_dim=0"),
    (lambda: rnn_tf.RNN(4), lambda l: l(tf.zeros([2, 5])), r"rank 2.*time axis"),
    (lambda: rnn_tf.RNN(4), lambda l: l(tf.zeros([2, 5], tf.int32)), r"input_dim"),
    (lambda: rnn_tf.RNN(4, input_dim=10), lambda l: l(tf.constant([[1, 10]])),
     r"input_dim=10\).*ids from 1 to 10"),
    (lambda: rnn_tf.RNN(4, input_dim=10), lambda l: l(tf.constant([[-1, 2]])), r"from -1"),
    (lambda: rnn_tf.RNN(4, input_dim=3), lambda l: l(tf.zeros([2, 5, 4])), r"4 features"),
    (lambda: rnn_tf.RNN(4), lambda l: l(tf.zeros([2, 5, 3]), mask=tf.ones([2, 4], tf.bool)),
     r"mask must be <bool>\[batch, time\] = \[2, 5\]"),
    (lambda: rnn_tf.RNN(4), lambda l: l(tf.zeros([2, 5, 3]), lengths=tf.constant([6, 1])),
     r"lengths must lie in \[0, time=5\]"),
    (lambda: rnn_tf.RNN(4), lambda l: l(tf.zeros([2, 5, 3]), initial_state=tf.zeros([2, 3])),
     r"initial_state must be"),
    (lambda: rnn_tf.RNN(4, stacked=True, input_dim=5), lambda l: l(tf.constant([[1, 2]])),
     r"stacked=True"),
])
def test_bad_input_raises_value_error_naming_it(make, call, match):
    with pytest.raises(ValueError, match=match):
        layer = make()
        call(layer)


def test_stateful_needs_fixed_batch():
    with pytest.raises(ValueError, match="fixed batch size"):
        keras.Sequential([keras.Input((None, 3)), rnn_tf.RNN(4, stateful=True)])


def test_saved_model_with_compiled_loops_loads_without_rnn_tf(tmp_path):
    """A static-shape signature traces the XLA-compiled loop kernels (and their BPTT, via
    a gradient inside the signature), the GRU's batch in two pieces side by side; a process
    that never imports rnn_tf loads and runs it."""
    from rnn_tf import bptt
    vanilla = rnn_tf.RNN(H, input_dim=11, return_sequences=True)
    gru = rnn_tf.RNN(H, cell="gru", return_sequences=True, batch_shards=2)
    ids = tf.constant(RNG.integers(0, 11, (B, T)), tf.int32)
    gru(vanilla(ids))
    module = tf.Module()
    module.layers = [vanilla, gru]

    @tf.function(input_signature=[tf.TensorSpec([B, T], tf.int32)])
    def serve(ids):
        with tf.GradientTape() as tape:
            h = vanilla(ids)
            tape.watch(h)
            y = gru(h)
            total = tf.reduce_sum(y)
        return {"y": y, "dh": tape.gradient(total, h)}

    bptt._COMPILED.clear()
    want = serve(ids)
    assert {f.__name__ for f in bptt._COMPILED} >= {"_vanilla_forward", "_gru_forward",
                                                     "_gru_backward"}
    path = str(tmp_path / "sm")
    tf.saved_model.save(module, path, signatures={"serving_default": serve})
    np.save(tmp_path / "ids.npy", ids.numpy())
    code = (
        "import sys, numpy as np, tensorflow as tf\n"
        f"f = tf.saved_model.load({path!r}).signatures['serving_default']\n"
        f"out = f(ids=tf.constant(np.load({str(tmp_path / 'ids.npy')!r})))\n"
        f"np.save({str(tmp_path / 'y.npy')!r}, out['y'].numpy())\n"
        f"np.save({str(tmp_path / 'dh.npy')!r}, out['dh'].numpy())\n"
        "assert 'rnn_tf' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(tmp_path))
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), want["y"], atol=1e-6)
    np.testing.assert_allclose(np.load(tmp_path / "dh.npy"), want["dh"], atol=1e-6)
