"""The lecture's RNN forward and BPTT backward in NumPy (float64): the test oracle.

Row-vector (batch-major) orientation, as rnn_tf stores weights:
    a<t> = g(a<t-1> W_aa + x<t> W_ax + b_a)
A masked step keeps a<t-1> and outputs zero.
"""

import numpy as np

ACT = {"tanh": (np.tanh, lambda a: 1 - a * a),
       "relu": (lambda z: np.maximum(z, 0), lambda a: (a > 0).astype(a.dtype))}


def forward(x, W_ax, W_aa, b_a, a0, mask=None, act="tanh", go_backwards=False):
    """x <float64>[B, T, X] (or one-hot of ids). Returns (outputs [B,T,H], final [B,H],
    cache for backward)."""
    g = ACT[act][0]
    B, T, _ = x.shape
    mask = np.ones((B, T), bool) if mask is None else mask
    order = range(T - 1, -1, -1) if go_backwards else range(T)
    a = a0.astype(np.float64)
    states, outputs = [], np.zeros((B, T, W_aa.shape[0]))
    for k, t in enumerate(order):
        a_new = g(a @ W_aa + x[:, t] @ W_ax + b_a)
        m = mask[:, t][:, None]
        a_prev, a = a, np.where(m, a_new, a)
        states.append((t, a_prev, a, m))
        outputs[:, k] = np.where(m, a, 0.0)           # output k is the k-th processed step
    return outputs, a, states


def backward(x, W_ax, W_aa, states, d_outputs, d_final, act="tanh"):
    """BPTT as the lecture draws it: backwards through time, one product per step.

    Returns dict of gradients for x, W_ax, W_aa, b_a, a0.
    """
    gprime = ACT[act][1]
    grads = {"x": np.zeros_like(x, dtype=np.float64), "W_ax": np.zeros_like(W_ax),
             "W_aa": np.zeros_like(W_aa), "b_a": np.zeros(W_aa.shape[0])}
    dh = d_final.astype(np.float64)
    for k in range(len(states) - 1, -1, -1):
        t, a_prev, a, m = states[k]
        g = d_outputs[:, k] * m + dh                   # dL/da<t>
        dz = np.where(m, g * gprime(a), 0.0)           # dL/dz<t>
        grads["W_aa"] += a_prev.T @ dz
        grads["W_ax"] += x[:, t].T @ dz
        grads["b_a"] += dz.sum(0)
        grads["x"][:, t] = dz @ W_ax.T
        dh = dz @ W_aa.T + np.where(m, 0.0, g)         # to a<t-1>
    grads["a0"] = dh
    return grads


# ------------------------------------------------------------------ GRU (keras reset_after)
def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def gru_forward(x, W, U, b, c, a0, mask=None, go_backwards=False):
    """GRU with keras' gate order (z, r, h) and reset_after=True, float64:
        z = s(x W_z + b_z + a U_z + c_z), r = s(x W_r + b_r + a U_r + c_r),
        h = tanh(x W_h + b_h + r * (a U_h + c_h)), a<t> = z a<t-1> + (1 - z) h.
    Returns (outputs [B,T,H], final [B,H], cache for gru_backward)."""
    B, T, _ = x.shape
    H = a0.shape[-1]
    mask = np.ones((B, T), bool) if mask is None else mask
    order = range(T - 1, -1, -1) if go_backwards else range(T)
    a = a0.astype(np.float64)
    cache, outputs = [], np.zeros((B, T, H))
    for k, t in enumerate(order):
        xp, rec = x[:, t] @ W + b, a @ U + c
        z = _sigmoid(xp[:, :H] + rec[:, :H])
        r = _sigmoid(xp[:, H:2 * H] + rec[:, H:2 * H])
        h = np.tanh(xp[:, 2 * H:] + r * rec[:, 2 * H:])
        m = mask[:, t][:, None]
        a_prev, a = a, np.where(m, z * a + (1 - z) * h, a)
        cache.append((t, a_prev, m, z, r, h, rec[:, 2 * H:]))
        outputs[:, k] = np.where(m, a, 0.0)
    return outputs, a, cache


def gru_backward(x, W, U, cache, d_outputs, d_final):
    """BPTT through the GRU, one step at a time, by the chain rule on gru_forward's
    formulas. Returns gradients for x, W, U, b, c, a0."""
    H = U.shape[0]
    grads = {"x": np.zeros_like(x, dtype=np.float64), "W": np.zeros_like(W),
             "U": np.zeros_like(U), "b": np.zeros(3 * H), "c": np.zeros(3 * H)}
    dh = d_final.astype(np.float64)
    for k in range(len(cache) - 1, -1, -1):
        t, a_prev, m, z, r, h, rec_h = cache[k]
        g = d_outputs[:, k] * m + dh                   # dL/da<t>
        gm = np.where(m, g, 0.0)                       # a padded step has no gate gradient
        d_h_pre = gm * (1 - z) * (1 - h * h)           # through h = tanh(.)
        d_z_pre = gm * (a_prev - h) * z * (1 - z)
        d_r_pre = d_h_pre * rec_h * r * (1 - r)
        d_xp = np.concatenate([d_z_pre, d_r_pre, d_h_pre], -1)
        d_rec = np.concatenate([d_z_pre, d_r_pre, d_h_pre * r], -1)
        grads["W"] += x[:, t].T @ d_xp
        grads["b"] += d_xp.sum(0)
        grads["U"] += a_prev.T @ d_rec
        grads["c"] += d_rec.sum(0)
        grads["x"][:, t] = d_xp @ W.T
        dh = gm * z + d_rec @ U.T + np.where(m, 0.0, g)
    grads["a0"] = dh
    return grads


def state_gradients(W_aa, states, d_outputs, act="tanh"):
    """dL/da<t> <float64>[B, T, H] as BPTT carries it: step t's own term d_outputs[:, t]
    plus what step t+1 sends back through W_aa (the `g<t>` of `backward`). `states` from
    `forward` (not reversed); a masked step passes its gradient straight through."""
    gprime = ACT[act][1]
    out = np.zeros_like(d_outputs, dtype=np.float64)
    dh = np.zeros(d_outputs[:, 0].shape)
    for k in range(len(states) - 1, -1, -1):
        t, a_prev, a, m = states[k]
        g = d_outputs[:, k] * m + dh
        out[:, k] = np.where(m, g, 0.0)
        dz = np.where(m, g * gprime(a), 0.0)
        dh = dz @ W_aa.T + np.where(m, 0.0, g)
    return out
