"""rnn_tf.diagnostics: dL/da<t> as BPTT carries it, against the NumPy BPTT oracle."""

import zlib

import numpy as np
import pytest
import tensorflow as tf

from rnn_tf import diagnostics, heads
from rnn_tf.models import LanguageModel
from tests import rnn_oracle


def _oracle_norms(model, ids, targets, mask):
    """(total, lag) of the lecture's BPTT in NumPy for a 1-layer vanilla LanguageModel."""
    V = model.rnn_0.get_weights()[0].shape[0]
    return _vanilla_oracle_norms(np.eye(V)[ids], None, model.rnn_0.get_weights(),
                                 model.head.get_weights(), targets, mask, mask)


def _vanilla_oracle_norms(x, a0, cell_weights, head_weights, targets, mask, step_mask):
    """(total, lag) of the lecture's BPTT in NumPy: a vanilla RNN (W_ax, W_aa, b_a) from
    a0 (None: zeros) over x <float>[B, T, X], whose steps outside `step_mask` (None: all
    in) keep the state, a softmax head (W_ya, b_y), and per-step losses of `targets` at
    the steps of `mask` <bool>[B, T]."""
    W_ax, W_aa, b_a = [w.astype(np.float64) for w in cell_weights]
    W_ya, b_y = [w.astype(np.float64) for w in head_weights]
    B, T = mask.shape
    V = W_ya.shape[1]
    a0 = np.zeros((B, W_aa.shape[0])) if a0 is None else a0.astype(np.float64)
    outputs, _, states = rnn_oracle.forward(x.astype(np.float64), W_ax, W_aa, b_a, a0,
                                            step_mask)
    logits = outputs @ W_ya + b_y
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    d_logits = (p - np.eye(V)[targets]) * mask[..., None]        # d(sum_t L<t>)/d logits
    d_out = d_logits @ W_ya.T
    total = rnn_oracle.state_gradients(W_aa, states, d_out)
    lengths = mask.sum(1)
    only_last = np.zeros_like(d_out)
    for b in range(B):
        only_last[b, lengths[b] - 1] = d_out[b, lengths[b] - 1]
    from_last = np.linalg.norm(rnn_oracle.state_gradients(W_aa, states, only_last), axis=-1)
    lag = np.zeros((B, T))
    for b in range(B):
        for k in range(lengths[b]):
            lag[b, k] = from_last[b, lengths[b] - 1 - k]
    return np.linalg.norm(total, axis=-1).mean(0), lag.mean(0)


@pytest.mark.parametrize("padded", [False, True])
def test_state_gradient_norms_equal_the_numpy_bptt_oracle(padded):
    rng = np.random.default_rng(zlib.crc32(f"diag{padded}".encode()))
    B, T, V, H = 3, 9, 6, 5
    model = LanguageModel(V, units=H)
    ids = rng.integers(0, V, (B, T)).astype(np.int32)
    targets = rng.integers(0, V, (B, T)).astype(np.int32)
    lengths = np.array([T, 4, 7] if padded else [T] * B, np.int32)
    mask = np.arange(T)[None, :] < lengths[:, None]
    model(ids)
    # weights large enough that the gradient is not gone after a step or two
    model.rnn_0.set_weights([w * 3 for w in model.rnn_0.get_weights()])

    def per_step_loss(probe):
        logits = model(ids, mask=tf.constant(mask), state_probe=probe)[0]
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits)
        return tf.where(mask, ce, 0.0)

    total, lag = diagnostics.state_gradient_norms(
        per_step_loss, (B, T, H), lengths if padded else None)
    want_total, want_lag = _oracle_norms(model, ids, targets, mask)
    np.testing.assert_allclose(total.numpy(), want_total, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(lag.numpy(), want_lag, rtol=1e-4, atol=1e-7)
    # the recurrent path is in it: the last step's loss reaches back past its own step
    assert lag.numpy()[1] > 0 and want_lag[1] > 0


def test_the_output_tensor_gradient_misses_the_recurrent_path():
    """What a tape on the layer's output tensor gives: the last step's loss has no
    gradient for any earlier a<t>, though BPTT carries one."""
    model = LanguageModel(6, units=5)
    ids = tf.constant(np.random.default_rng(3).integers(0, 6, (2, 8)), tf.int32)
    with tf.GradientTape() as tape:
        logits, _, hidden = model(ids, return_hidden=True)
        last = heads.softmax_loss(ids[:, -1:], logits[:, -1:])
    local = tf.norm(tape.gradient(last, hidden), axis=-1).numpy()
    assert np.all(local[:, :-1] == 0) and np.all(local[:, -1] > 0)

    def per_step_loss(probe):
        lg = model(ids, state_probe=probe)[0]
        return tf.nn.sparse_softmax_cross_entropy_with_logits(ids, lg)

    _, lag = diagnostics.state_gradient_norms(per_step_loss, (2, 8, 5))
    assert np.all(lag.numpy()[:4] > 0)


def test_a_zero_probe_changes_nothing_and_works_in_a_graph():
    for cell in ("vanilla", "gru", "lstm"):
        model = LanguageModel(7, units=4, cell=cell, num_layers=2, residual=True)
        ids = tf.constant(np.random.default_rng(1).integers(0, 7, (2, 5)), tf.int32)
        plain = model(ids)[0]
        probed = tf.function(lambda p: model(ids, state_probe=p)[0])(tf.zeros([2, 5, 4]))
        np.testing.assert_allclose(probed.numpy(), plain.numpy(), atol=1e-6)


def test_reach_is_the_first_lag_below_a_thousandth():
    assert diagnostics.reach([4.0, 1.0, 1e-2, 5e-3, 3e-3, 1e-4]) == 4    # 3e-3 < 4e-3
    assert diagnostics.reach([4.0, 1.0, 1e-2]) == 3          # never that far: the window
    assert diagnostics.reach([0.0, 0.0]) == 0
    assert diagnostics.reach([2.0, 1e-3, 5.0], ratio=1e-2) == 1


def test_the_lm_tasks_logged_view_is_the_oracles():
    """What the LM task logs at each validation: its bptt_view on a training batch equals
    the NumPy BPTT oracle on the same weights and rows."""
    from configs import default
    from pipelines import tasks
    config = default.get_config("tiny")
    config.model.update(units=5, cell="vanilla", num_layers=1)
    task = tasks.get(config)
    vocab = list("abcdefg")
    task.meta = {"vocab": vocab}
    model = task.build_model()
    rng = np.random.default_rng(7)
    ids = rng.integers(0, len(vocab), (3, 10)).astype(np.int32)
    targets = rng.integers(0, len(vocab), (3, 10)).astype(np.int32)
    mask = np.ones((3, 10), bool)
    model(ids)
    model.rnn_0.set_weights([w * 3 for w in model.rnn_0.get_weights()])
    total, lag = task.bptt_view(model, {"inputs": ids, "targets": targets, "mask": mask})
    want_total, want_lag = _oracle_norms(model, ids, targets, mask)
    np.testing.assert_allclose(total, want_total, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(lag, want_lag, rtol=1e-4, atol=1e-7)


def test_the_decoder_view_is_the_oracles():
    """The seq2seq decoder's states of the teacher-forced pass, probed through
    `probing(model.decoder_cell, ...)`: the view equals the NumPy BPTT oracle of the
    decoder (vanilla, no attention) from the encoder's final state."""
    from rnn_tf.seq2seq import EncoderDecoder
    rng = np.random.default_rng(zlib.crc32(b"decoder view"))
    B, Tx, Ty, Vs, Vt, H, E = 3, 5, 7, 6, 8, 4, 3
    model = EncoderDecoder(Vs, Vt, units=H, cell="vanilla", embedding_dim=E, attention=False)
    source = tf.constant(rng.integers(3, Vs, (B, Tx)), tf.int32)
    lengths = np.array([Ty, 4, 6], np.int32)
    mask = np.arange(Ty)[None, :] < lengths[:, None]
    target_in = np.where(mask, rng.integers(3, Vt, (B, Ty)), 0).astype(np.int32)
    target_out = np.where(mask, rng.integers(2, Vt, (B, Ty)), 0).astype(np.int32)
    model((source, target_in))
    model.decoder_cell.set_weights([w * 3 for w in model.decoder_cell.get_weights()])

    def per_step_loss(probe):
        with diagnostics.probing(model.decoder_cell, probe):
            logits = model((source, tf.constant(target_in)))
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(target_out, logits)
        return tf.where(tf.constant(mask), nll, 0.0)

    total, lag = diagnostics.state_gradient_norms(per_step_loss, (B, Ty, H), lengths)
    a0 = model.encode(source)[2][0].numpy()
    x = model.embedding.get_weights()[0][target_in]
    want_total, want_lag = _vanilla_oracle_norms(
        x, a0, model.decoder_cell.get_weights(), model.head.get_weights(), target_out,
        mask, None)
    np.testing.assert_allclose(total.numpy(), want_total, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(lag.numpy(), want_lag, rtol=1e-4, atol=1e-7)
    assert want_lag[2] > 0
    # a zero probe changes nothing, with attention and every cell too
    for cell, attention in (("vanilla", False), ("gru", True), ("lstm", True)):
        model = EncoderDecoder(Vs, Vt, units=H, cell=cell, embedding_dim=E,
                               attention=attention)
        plain = model((source, target_in)).numpy()
        with diagnostics.probing(model.decoder_cell, tf.zeros([B, Ty, H])):
            probed = model((source, tf.constant(target_in)))
        np.testing.assert_allclose(probed.numpy(), plain, atol=1e-6)
