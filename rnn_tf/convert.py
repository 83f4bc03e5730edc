"""Weight converters between rnn_tf's vanilla RNN, `keras.layers.SimpleRNN` and the
state-dict layout of PyTorch `torch.nn.RNN`. NumPy in, NumPy out: no PyTorch needed.

rnn_tf stores (the layer's `get_weights()` order):
    W_ax <float32>[input_dim, units], W_aa <float32>[units, units], b_a <float32>[units]
keras SimpleRNN stores the same three in the same orientation:
    kernel [input_dim, units], recurrent_kernel [units, units], bias [units]
torch.nn.RNN (one layer, batch_first or not) stores the lecture's column-vector
orientation and two biases that are always added together:
    weight_ih_l0 [units, input_dim], weight_hh_l0 [units, units],
    bias_ih_l0 [units], bias_hh_l0 [units]
"""

import numpy as np


def _check(name, array, shape):
    if array.shape != shape:
        raise ValueError(f"{name} has shape {array.shape}; expected {shape}. Check that the "
                         "weights come from a one-layer vanilla RNN of the same sizes.")


def from_keras_simple_rnn(weights):
    """[kernel, recurrent_kernel, bias] of SimpleRNN -> rnn_tf [W_ax, W_aa, b_a]."""
    if len(weights) != 3:
        raise ValueError(f"expected SimpleRNN's 3 arrays [kernel, recurrent_kernel, bias]; "
                         f"received {len(weights)}. Build SimpleRNN with use_bias=True.")
    kernel, recurrent, bias = (np.asarray(w) for w in weights)
    units = recurrent.shape[0]
    _check("recurrent_kernel", recurrent, (units, units))
    _check("kernel", kernel, (kernel.shape[0], units))
    _check("bias", bias, (units,))
    return [kernel.copy(), recurrent.copy(), bias.copy()]


def to_keras_simple_rnn(weights):
    """rnn_tf [W_ax, W_aa, b_a] -> SimpleRNN [kernel, recurrent_kernel, bias]."""
    return from_keras_simple_rnn(weights)   # same layout; validated and copied


def from_torch_state_dict(state_dict, layer=0):
    """A torch.nn.RNN state dict (arrays or tensors with .numpy()) -> [W_ax, W_aa, b_a].

    torch's two biases are summed: b_a = bias_ih + bias_hh, which gives identical outputs.
    """
    def get(key, required=True):
        name = f"{key}_l{layer}"
        if name not in state_dict:
            if required:
                raise ValueError(f"state dict has no {name!r} (keys: {sorted(state_dict)}). "
                                 "Pass torch.nn.RNN(...).state_dict() and the layer index.")
            return None
        v = state_dict[name]
        v = v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)
        return v
    w_ih, w_hh = get("weight_ih"), get("weight_hh")
    units = w_hh.shape[0]
    _check(f"weight_hh_l{layer}", w_hh, (units, units))
    _check(f"weight_ih_l{layer}", w_ih, (units, w_ih.shape[1]))
    b_ih, b_hh = get("bias_ih", False), get("bias_hh", False)
    b = np.zeros(units, w_hh.dtype)
    for v in (b_ih, b_hh):
        if v is not None:
            _check("bias", v, (units,))
            b = b + v
    return [w_ih.T.copy(), w_hh.T.copy(), b]


def to_torch_state_dict(weights, layer=0):
    """rnn_tf [W_ax, W_aa, b_a] -> {weight_ih_lK, weight_hh_lK, bias_ih_lK, bias_hh_lK}.

    The whole bias goes to bias_ih; bias_hh is zero. Load with
    `rnn.load_state_dict({k: torch.from_numpy(v) for k, v in d.items()})`.
    """
    W_ax, W_aa, b_a = from_keras_simple_rnn(weights)
    return {f"weight_ih_l{layer}": W_ax.T.copy(), f"weight_hh_l{layer}": W_aa.T.copy(),
            f"bias_ih_l{layer}": b_a.copy(), f"bias_hh_l{layer}": np.zeros_like(b_a)}
