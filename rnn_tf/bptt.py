"""Backpropagation through time for the vanilla cell (and the GRU, at the end), written out as
the lecture draws it.

The forward pass runs `a<t> = g(a<t-1> W_aa + xp<t>)` in a `tf.while_loop`; the backward
pass is explicit (`tf.custom_gradient`):

    backwards through time, one small product per step:
        g<t>      = dL/da<t> (from the outputs) + dL/da<t> (from step t+1)
        dz<t>     = g<t> * g'(z<t>)                      # g' from a<t> = g(z<t>)
        dL/da<t-1> (via the recurrence) = dz<t> W_aa^T
    then the weight gradients as large products after the loop:
        dL/dW_aa  = [a<0>..a<T-1>]^T [dz<1>..dz<T>]       # one (H x TB) @ (TB x H)
        dL/dxp<t> = dz<t>                                  # W_ax, b_a follow by autodiff

Masked steps keep the previous state (a<t> = a<t-1>), so their gradient passes straight
through to a<t-1> and their dz is zero.

Everything here is time-major: `<float>[time, batch, units]`. The layer transposes.
"""

import tensorflow as tf

from rnn_tf import device
from rnn_tf.cells import OUTPUT_DERIVATIVES, gru_gates

# g by name, for the activations the fused kernel can differentiate (cells.OUTPUT_DERIVATIVES)
ACTIVATIONS = {"tanh": tf.tanh, "relu": tf.nn.relu, "sigmoid": tf.sigmoid,
               "linear": tf.identity}

# keras' backend.rnn uses 32 too; lets the executor overlap the TensorArray reads/writes.
PARALLEL_ITERATIONS = 32

_COMPILED = {}


def _kernel(fn, compiled):
    """`fn`, or with `compiled` the same function as an XLA-compiled tf.function of its own.

    The time loops are chains of small dependent products; XLA runs such a loop with far
    less per-step overhead than TensorFlow's executor, while the large products and
    elementwise work around them run faster as TensorFlow ops (multi-threaded). Inside a
    caller's own XLA function (jit_compile=True) the compiled function is simply inlined.
    XLA compiles once per input shape, which is why `device.compile_loops` asks for it only
    when the time length is static.
    """
    if not compiled:
        return fn
    if fn not in _COMPILED:
        # traced per input shape (no relaxed shapes): XLA compiles per shape anyway, and the
        # outputs keep their static shapes
        _COMPILED[fn] = tf.function(fn, jit_compile=True)
    return _COMPILED[fn]


def _time_steps(x):
    return x.shape[0] if x.shape[0] is not None else tf.shape(x)[0]


def stack_steps(ta, element_shape):
    """`ta.stack()`, <dtype>[time, *element_shape], also when the loop ran no step.

    TensorArray cannot stack zero elements of a shape it does not fully know (an unknown
    batch size), so then the empty result is built from `element_shape`, a 1-D int
    tensor or a fully known shape.
    """
    if ta.element_shape.is_fully_defined():
        return ta.stack()
    return tf.cond(ta.size() > 0, ta.stack, lambda: no_steps(ta, element_shape))


def no_steps(like, element_shape):
    """<like.dtype>[0, *element_shape]: the stacked outputs of a loop of zero steps
    (`like`: anything with the dtype, a tensor or a TensorArray)."""
    return tf.zeros(tf.concat([[0], element_shape], 0), like.dtype)


def if_steps(A, fn, empty_fn):
    """`fn()` when A <float>[time, ...] has a step, else `empty_fn()` (a length-0 sequence),
    decided in Python when the time length is static and by `tf.cond` when it is not."""
    T = A.shape[0]
    if T is not None:
        return fn() if T > 0 else empty_fn()
    return tf.cond(tf.shape(A)[0] > 0, fn, empty_fn)


def _unstack(x, element_shape):
    return tf.TensorArray(x.dtype, size=_time_steps(x), element_shape=element_shape,
                          infer_shape=False).unstack(x)


def _forward(step, a0, T, mask_ta, input_ta):
    """Runs `a<t> = step(x<t>, a<t-1>)` for t < T. Returns A <float>[T, batch, units]."""
    out = tf.TensorArray(a0.dtype, size=T, element_shape=a0.shape)

    def body(t, a, out):
        a_next = step(input_ta.read(t), a)                       # (B, H)
        if mask_ta is not None:
            a_next = tf.where(mask_ta.read(t), a_next, a)        # padded: keep a<t-1>
        return t + 1, a_next, out.write(t, a_next)

    _, _, out = tf.while_loop(lambda t, *_: t < T, body, (tf.constant(0), a0, out),
                              maximum_iterations=T, parallel_iterations=PARALLEL_ITERATIONS)
    return stack_steps(out, tf.shape(a0))


def _backward(A, dA, W_aa, a0, mask, activation):
    """The BPTT loop. Returns dZ <float>[T, B, H] (dL/dz<t>) and dL/da<0> <float>[B, H]."""
    T = _time_steps(A)
    gprime = OUTPUT_DERIVATIVES[activation](A)                  # (T, B, H), all steps at once
    gprime_ta = _unstack(gprime, a0.shape)
    dA_ta = _unstack(dA, a0.shape)
    mask_ta = None if mask is None else _unstack(mask, None)
    dZ = tf.TensorArray(A.dtype, size=T, element_shape=a0.shape)
    W_aa_t = tf.transpose(W_aa)                                 # once, not per step

    def body(t, dh, dZ):
        g = dA_ta.read(t) + dh                                   # dL/da<t>, (B, H)
        if mask_ta is None:
            dz = g * gprime_ta.read(t)
            dh_prev = tf.matmul(dz, W_aa_t)                      # the one small product
        else:
            m = mask_ta.read(t)                                  # (B, 1) bool
            dz = tf.where(m, g * gprime_ta.read(t), tf.zeros_like(g))
            dh_prev = tf.matmul(dz, W_aa_t) + tf.where(m, tf.zeros_like(g), g)
        return t - 1, dh_prev, dZ.write(t, dz)

    _, da0, dZ = tf.while_loop(lambda t, *_: t >= 0, body,
                               (T - 1, tf.zeros_like(a0), dZ), maximum_iterations=T,
                               parallel_iterations=PARALLEL_ITERATIONS)
    return stack_steps(dZ, tf.shape(a0)), da0


def _unless_empty(compiled, x, run, empty):
    """`run()`, the forward loop, or `empty()` when x <float>[time, ...] has no step: decided
    in Python for a static length of 0 (no loop is built: XLA cannot unstack zero steps),
    and by `tf.cond` for a compiled loop whose length is known only at run time; an
    uncompiled TensorFlow loop handles zero steps itself (`stack_steps`)."""
    if compiled or x.shape[0] == 0:
        return if_steps(x, run, empty)
    return run()


def _zeros_like_all(*tensors):
    """The gradients of a length-0 sequence: nothing reached any input."""
    return tuple(tf.zeros_like(t) for t in tensors)


def _recurrent_weight_grad(A, dZ, a0):
    """dL/dW_aa = sum_t a<t-1>^T dz<t>, as one big product (plus a<0>'s term)."""
    H = A.shape[-1]
    A_prev = tf.reshape(A[:-1], [-1, H])                         # a<1>..a<T-1>, (T-1)B x H
    dZ_next = tf.reshape(dZ[1:], [-1, H])                        # dz<2>..dz<T>
    return (tf.matmul(A_prev, dZ_next, transpose_a=True)
            + tf.matmul(a0, dZ[0], transpose_a=True))


def _vanilla_forward(xp, W_aa, a0, mask, activation):
    """The forward loop a<t> = g(a<t-1> W_aa + xp<t>). Returns A <float>[T, B, H]."""
    act = ACTIVATIONS[activation]
    mask_ta = None if mask is None else _unstack(mask, None)
    return _forward(lambda x_t, a: act(tf.matmul(a, W_aa) + x_t), a0, _time_steps(xp),
                    mask_ta, _unstack(xp, a0.shape))


def fused_unroll(xp, W_aa, a0, mask, activation, compiled=False):
    """a<t> = g(a<t-1> W_aa + xp<t>) for all t, with the explicit BPTT gradient.

    Args:
      xp: <float>[time, batch, units], the hoisted input term x<t> W_ax + b_a.
      W_aa: <float>[units, units].
      a0: <float>[batch, units], the initial state.
      mask: <bool>[time, batch, 1] or None; False steps keep the previous state.
      activation: a key of `cells.OUTPUT_DERIVATIVES` ('tanh', 'relu', ...).
      compiled: run the forward and the BPTT loop as XLA-compiled functions (`_kernel`).
    Returns:
      A: <float>[time, batch, units], a<1>..a<T>.
    """
    forward = _kernel(_vanilla_forward, compiled)
    backward = _kernel(_backward, compiled)

    @tf.custom_gradient
    def core(xp, W_aa, a0):
        A = _unless_empty(compiled, xp, lambda: forward(xp, W_aa, a0, mask, activation),
                          lambda: no_steps(a0, tf.shape(a0)))

        def grad(dA):
            def bptt():
                dZ, da0 = backward(A, dA, W_aa, a0, mask, activation)
                return dZ, _recurrent_weight_grad(A, dZ, a0), da0
            return if_steps(A, bptt, lambda: _zeros_like_all(xp, W_aa, a0))

        return A, grad

    return core(xp, W_aa, a0)


def _stacked_forward(x, W_a, b_a, a0, mask, activation):
    """The forward loop a<t> = g([a<t-1>; x<t>] W_a + b_a). Returns A <float>[T, B, H]."""
    act = ACTIVATIONS[activation]
    mask_ta = None if mask is None else _unstack(mask, None)
    step = lambda x_t, a: act(tf.matmul(tf.concat([a, x_t], -1), W_a) + b_a)
    return _forward(step, a0, _time_steps(x), mask_ta, _unstack(x, None))


def fused_unroll_stacked(x, W_aa, W_ax, b_a, a0, mask, activation, compiled=False):
    """The stacked form a<t> = g([a<t-1>; x<t>] W_a + b_a), W_a = [W_aa; W_ax].

    One (B x (H+X)) @ ((H+X) x H) product per step. The backward is the same BPTT loop;
    the weight gradient is one product of [A_prev, X]^T with dZ.

    Args:
      x: <float>[time, batch, features].
      W_aa: <float>[units, units]; W_ax: <float>[features, units]; b_a: <float>[units].
      a0: <float>[batch, units]; mask: <bool>[time, batch, 1] or None.
      compiled: run the forward and the BPTT loop as XLA-compiled functions (`_kernel`).
    Returns:
      A: <float>[time, batch, units].
    """
    H = W_aa.shape[0]
    forward = _kernel(_stacked_forward, compiled)
    backward = _kernel(_backward, compiled)

    @tf.custom_gradient
    def core(x, W_aa, W_ax, b_a, a0):
        W_a = tf.concat([W_aa, W_ax], axis=0)                       # (H + X, H)
        A = _unless_empty(compiled, x, lambda: forward(x, W_a, b_a, a0, mask, activation),
                          lambda: no_steps(a0, tf.shape(a0)))

        def grad(dA):
            return if_steps(A, lambda: bptt(dA),
                            lambda: _zeros_like_all(x, W_aa, W_ax, b_a, a0))

        def bptt(dA):
            dZ, da0 = backward(A, dA, W_aa, a0, mask, activation)
            X = tf.shape(x)[-1]
            A_prev = tf.concat([a0[None], A[:-1]], axis=0)          # (T, B, H)
            stacked_in = tf.reshape(tf.concat([A_prev, x], -1), [-1, H + X])
            dZ2 = tf.reshape(dZ, [-1, H])
            dW_a = tf.matmul(stacked_in, dZ2, transpose_a=True)    # ((H+X) x H), one product
            dx = tf.reshape(tf.matmul(dZ2, W_ax, transpose_b=True), tf.shape(x))  # (T, B, X)
            return dx, dW_a[:H], dW_a[H:], tf.reduce_sum(dZ2, 0), da0

        return A, grad

    return core(x, W_aa, W_ax, b_a, a0)


def _gru_forward(xp, U, c, a0, mask):
    """The GRU forward loop. Returns A <float>[T, B, H] and rec<t> = a<t-1> U + c
    <float>[T, B, 3H] for the backward pass."""
    H = a0.shape[-1]
    T = _time_steps(xp)
    mask_ta = None if mask is None else _unstack(mask, None)
    xp_ta = _unstack(xp, None)
    out = tf.TensorArray(a0.dtype, size=T, element_shape=a0.shape)
    recs = tf.TensorArray(a0.dtype, size=T, element_shape=[a0.shape[0], 3 * H])

    def body(t, a, out, recs):
        rec = tf.matmul(a, U) + c                                    # (B, 3H)
        z, _, h, _ = gru_gates(xp_ta.read(t), rec)
        a_next = z * a + (1.0 - z) * h
        if mask_ta is not None:
            a_next = tf.where(mask_ta.read(t), a_next, a)
        return t + 1, a_next, out.write(t, a_next), recs.write(t, rec)

    _, _, out, recs = tf.while_loop(
        lambda t, *_: t < T, body, (tf.constant(0), a0, out, recs), maximum_iterations=T,
        parallel_iterations=PARALLEL_ITERATIONS)
    return (stack_steps(out, tf.shape(a0)),
            stack_steps(recs, tf.stack([tf.shape(a0)[0], 3 * H])))


def _gru_backward(dA, D, z, U, a0, mask):
    """The GRU BPTT loop (see fused_gru_unroll). Returns G <float>[T, B, H], the gradient
    reaching each step's cell (zero on padded steps), and dL/da<0> <float>[B, H]."""
    T = _time_steps(dA)
    D_ta, z_ta, dA_ta = _unstack(D, None), _unstack(z, a0.shape), _unstack(dA, a0.shape)
    mask_ta = None if mask is None else _unstack(mask, None)
    G = tf.TensorArray(dA.dtype, size=T, element_shape=a0.shape)
    U_t = tf.transpose(U)                                            # once, not per step

    def back(t, dh, G):
        g = dA_ta.read(t) + dh                                       # dL/da<t>, (B, H)
        if mask_ta is not None:
            m = mask_ta.read(t)
            g_cell = tf.where(m, g, tf.zeros_like(g))                # padded: no gate grad
        else:
            g_cell = g
        drec = tf.tile(g_cell, [1, 3]) * D_ta.read(t)
        dh_prev = g_cell * z_ta.read(t) + tf.matmul(drec, U_t)
        if mask_ta is not None:
            dh_prev = dh_prev + tf.where(m, tf.zeros_like(g), g)
        return t - 1, dh_prev, G.write(t, g_cell)

    _, da0, G = tf.while_loop(lambda t, *_: t >= 0, back, (T - 1, tf.zeros_like(a0), G),
                              maximum_iterations=T, parallel_iterations=PARALLEL_ITERATIONS)
    return stack_steps(G, tf.shape(a0)), da0


# With compiled loops, the GRU's BPTT also compiles the elementwise work before and after
# its loop (the gates of every step folded into coefficients, then the gradients of the
# recurrent and input terms): XLA fuses each chain into one pass over [T, B, 3H], where
# TensorFlow's ops read and write every intermediate (benchmarks/shape_sweep.py's GRU
# shapes measure it; False restores the unfused ops for an A/B).
FUSE_ELEMENTWISE = True


def _gru_coefficients(xp, REC, A_prev):
    """The gates of every step at once, folded into BPTT's coefficients (fused_gru_unroll):
    D = [C_z, C_r, C_h r] and C = [C_z, C_r, C_h] <float>[T, B, 3H], and z [T, B, H]."""
    z, r, h, r_h = gru_gates(xp, REC)
    C_z = (A_prev - h) * z * (1.0 - z)
    C_h = (1.0 - z) * (1.0 - h * h)
    C_r = C_h * r_h * r * (1.0 - r)
    return (tf.concat([C_z, C_r, C_h * r], axis=-1), tf.concat([C_z, C_r, C_h], axis=-1),
            z)


def _gru_gradients(G, D, C):
    """dL/drec = [G, G, G] D and dL/dxp = [G, G, G] C, <float>[T, B, 3H]."""
    G3 = tf.tile(G, [1, 1, 3])
    return G3 * D, G3 * C


def fused_gru_unroll(xp, U, c, a0, mask, compiled=False):
    """The GRU of `cells.GRUCell` (keras' reset_after form) with an explicit BPTT gradient.

        rec<t> = a<t-1> U + c                       # the one product per step, (B, 3H)
        z = sigmoid(xp_z + rec_z), r = sigmoid(xp_r + rec_r), h = tanh(xp_h + r * rec_h)
        a<t> = z * a<t-1> + (1 - z) * h

    The forward loop stores a<t> and rec<t>; the gates are recomputed for all steps at
    once before the backward loop, which folds them into per-step coefficients so that each
    step is one elementwise product and one (B x 3H) @ (3H x H) product:

        g<t>      = dL/da<t> (from the outputs) + dL/da<t> (from step t+1)
        drec<t>   = [g * C_z, g * C_r, g * C_h * r]          (B, 3H)
        dL/da<t-1> = g * z + drec<t> U^T
    with C_z = (a<t-1> - h) z (1 - z), C_h = (1 - z)(1 - h^2), C_r = C_h rec_h r (1 - r).
    After the loop: dL/dxp = [g C_z, g C_r, g C_h], dL/dU = A_prev^T drec (one big product),
    dL/dc = sum drec.

    Args:
      xp: <float>[time, batch, 3*units], the hoisted input term x<t> W + b.
      U: <float>[units, 3*units], the recurrent kernel.
      c: <float>[3*units], the recurrent bias.
      a0: <float>[batch, units].
      mask: <bool>[time, batch, 1] or None; False steps keep the previous state.
      compiled: run the BPTT loop (and, as `device.compile_gru_forward` decides for the
        piece's size, the forward loop) as XLA-compiled functions (`_kernel`).
    Returns:
      A: <float>[time, batch, units], a<1>..a<T>.
    """
    H = a0.shape[-1]
    forward = _kernel(_gru_forward, compiled and device.compile_gru_forward(a0.shape[0], H))
    backward = _kernel(_gru_backward, compiled)
    coefficients = _kernel(_gru_coefficients, compiled and FUSE_ELEMENTWISE)
    gradients = _kernel(_gru_gradients, compiled and FUSE_ELEMENTWISE)

    @tf.custom_gradient
    def core(xp, U, c, a0):
        A, REC = _unless_empty(                                      # (T, B, H), (T, B, 3H)
            compiled, xp, lambda: forward(xp, U, c, a0, mask),
            lambda: (no_steps(a0, tf.shape(a0)), no_steps(a0, [tf.shape(a0)[0], 3 * H])))

        def grad(dA):
            return if_steps(A, lambda: bptt(dA), lambda: _zeros_like_all(xp, U, c, a0))

        def bptt(dA):
            A_prev = tf.concat([a0[None], A[:-1]], axis=0)           # (T, B, H)
            D, C, z = coefficients(xp, REC, A_prev)
            G, da0 = backward(dA, D, z, U, a0, mask)
            dREC, dxp = gradients(G, D, C)
            dREC2 = tf.reshape(dREC, [-1, 3 * H])
            dU = tf.matmul(tf.reshape(A_prev, [-1, H]), dREC2, transpose_a=True)
            return dxp, dU, tf.reduce_sum(dREC2, 0), da0

        return A, grad

    return core(xp, U, c, a0)
