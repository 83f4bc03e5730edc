"""Where a training step's time goes: rnn_tf.RNN + Dense + softmax CE + Adam, in pieces.

    python benchmarks/profile_step.py                     # char config: B=64 T=100 V=65 H=256 C=65
    python benchmarks/profile_step.py --B 16 --T 1000 --H 128   # long config

Rows (ms per call, median of 5 x 10 calls, without and with jit_compile):
  full     the whole training step
  fwd      the RNN layer's forward pass only
  fwdbwd   the RNN layer forward + BPTT with a cheap linear loss
  head     Dense + softmax CE + Adam on a constant hidden sequence
  shared   head plus dL/dhidden: everything in a step that does not depend on the layer
  adam     Adam on the layer's variables (W_ax is [V, H]) given their gradients: the part
           of a step that any layer with the lecture's weights pays, however fast its
           forward and BPTT (keras SimpleRNN's kernel is the same [V, H] matrix)
  keras    the same full step with keras.layers.SimpleRNN on one-hot input (the baseline
           of benchmarks/train_throughput.py)
  chain    T products (B x H) @ (H x H) in a while-loop: the recurrence's floor

The last lines bound the ratio to keras that any layer can reach with this head:
keras / shared, the ratio of a layer that costs nothing, and keras / (shared + adam),
the ratio of a layer whose forward and BPTT cost nothing but whose weights Adam updates;
first with every step in a plain tf.function, then with our step compiled by XLA against
keras in whichever mode was faster.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import rnn_tf  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name, default in (("B", 64), ("T", 100), ("V", 65), ("H", 256), ("C", 65)):
        p.add_argument(f"--{name}", type=int, default=default)
    a = p.parse_args()
    rng = np.random.default_rng(0)
    ids = tf.constant(rng.integers(0, a.V, (a.B, a.T)), tf.int32)
    y = tf.constant(rng.integers(0, a.C, (a.B, a.T)), tf.int32)
    layer = rnn_tf.RNN(a.H, input_dim=a.V, return_sequences=True)
    head = keras.layers.Dense(a.C)
    head(layer(ids))
    r = tf.constant(rng.standard_normal((a.B, a.T, a.H)), tf.float32)
    hs = tf.constant(np.tanh(rng.standard_normal((a.B, a.T, a.H))), tf.float32)
    W = tf.constant(np.linalg.qr(rng.standard_normal((a.H, a.H)))[0], tf.float32)
    opt = keras.optimizers.Adam(1e-3)
    variables = layer.trainable_variables + head.trainable_variables
    opt.build(variables)

    def full(x, y):
        with tf.GradientTape() as t:
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                y, head(layer(x))))
        g = [tf.convert_to_tensor(v) for v in t.gradient(loss, variables)]
        opt.apply_gradients(zip(g, variables))
        return loss

    def fwd(x, y):
        return tf.reduce_sum(layer(x))

    def fwdbwd(x, y):
        with tf.GradientTape() as t:
            loss = tf.reduce_sum(layer(x) * r)
        g = t.gradient(loss, layer.trainable_variables)
        return tf.add_n([tf.reduce_sum(tf.convert_to_tensor(v)) for v in g])

    def head_step(wrt_hidden):
        """Dense + softmax CE + Adam on the head on a constant hidden sequence; with
        wrt_hidden also dL/dhidden, which every layer's step computes."""
        def step(x, y):
            with tf.GradientTape() as t:
                t.watch(hs)
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                    y, head(hs)))
            variables = head.trainable_variables
            g = t.gradient(loss, variables + ([hs] if wrt_hidden else []))
            opt.apply_gradients(zip(g[:len(variables)], variables))
            return loss + tf.reduce_sum(g[-1]) if wrt_hidden else loss
        return step

    keras_rnn = keras.layers.SimpleRNN(a.H, return_sequences=True)
    keras_head = keras.layers.Dense(a.C)
    onehot = tf.one_hot(ids, a.V)
    keras_head(keras_rnn(onehot))
    keras_vars = keras_rnn.trainable_variables + keras_head.trainable_variables
    keras_opt = keras.optimizers.Adam(1e-3)
    keras_opt.build(keras_vars)

    def keras_full(x, y):
        with tf.GradientTape() as t:
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                y, keras_head(keras_rnn(onehot))))
        keras_opt.apply_gradients(zip(t.gradient(loss, keras_vars), keras_vars))
        return loss

    layer_grads = [tf.constant(rng.standard_normal(v.shape), tf.float32)
                   for v in layer.trainable_variables]
    layer_opt = keras.optimizers.Adam(1e-3)
    layer_opt.build(layer.trainable_variables)

    def adam(x, y):
        layer_opt.apply_gradients(zip(layer_grads, layer.trainable_variables))
        return layer.trainable_variables[0][0, 0]

    def chain(x, y):
        return tf.while_loop(lambda i, h: i < a.T,
                             lambda i, h: (i + 1, tf.tanh(tf.matmul(h, W))),
                             (0, tf.ones([a.B, a.H])))[1]

    print(f"B={a.B} T={a.T} V={a.V} H={a.H} C={a.C}\n")
    print("| piece | ms (tf.function) | ms (XLA) |\n|---|---|---|")
    ms = {}
    for name, f in (("full", full), ("fwd", fwd), ("fwdbwd", fwdbwd), ("head", head_step(False)),
                    ("shared", head_step(True)), ("adam", adam), ("keras", keras_full),
                    ("chain", chain)):
        row = []
        for jit in (False, True):
            fn = tf.function(f, jit_compile=jit)
            fn(ids, y).numpy()
            ts = []
            for _ in range(5):
                t0 = time.perf_counter()
                for _ in range(10):
                    out = fn(ids, y)
                out.numpy()
                ts.append((time.perf_counter() - t0) / 10 * 1e3)
            row.append(float(np.median(ts)))
        print(f"| {name} | {row[0]:.1f} | {row[1]:.1f} |", flush=True)
        ms[name] = row
    print(f"\nratio to keras (tf.function) of this layer: {ms['keras'][0] / ms['full'][0]:.2f}x;"
          f" of a layer that costs nothing: {ms['keras'][0] / ms['shared'][0]:.2f}x "
          f"(keras / shared); of a layer whose forward and BPTT cost nothing: "
          f"{ms['keras'][0] / (ms['shared'][0] + ms['adam'][0]):.2f}x "
          f"(keras / (shared + adam))")
    keras_best = min(ms["keras"])
    print(f"with the step compiled by XLA (against keras's faster mode, {keras_best:.1f} ms): "
          f"this layer {keras_best / ms['full'][1]:.2f}x; a layer that costs nothing "
          f"{keras_best / ms['shared'][1]:.2f}x; a layer whose forward and BPTT cost nothing "
          f"{keras_best / (ms['shared'][1] + ms['adam'][1]):.2f}x")


if __name__ == "__main__":
    main()
