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
