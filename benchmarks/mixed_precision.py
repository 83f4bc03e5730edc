"""mixed_bfloat16 against float32 training: throughput and the loss after a fixed number
of steps, measured in one run on the harness's four shapes and the char LM GRU's.

    python benchmarks/mixed_precision.py                 # ~5 min on 2 cores
    python benchmarks/mixed_precision.py --record        # + record and docs/speed.md's table
    python benchmarks/mixed_precision.py --table

Each shape trains `rnn_tf.RNN -> Dense(C)` with Adam from the same initial weights on the
same batches under each Keras dtype policy (`dtype=` on both layers; the loss is computed
in float32). The task is learnable, so the loss says whether bfloat16 hurts learning:
y<t> is the previous step's token (its one-hot position for the float `wide` input).
Steps run in chunks, alternating the policies, so drift hits both alike; throughput is
the median over the chunks. The record notes whether the CPU reports AVX-512 BF16 and AMX
(/proc/cpuinfo), the instructions bfloat16 needs to be fast.
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import rnn_tf  # noqa: E402
from benchmarks import record  # noqa: E402
from benchmarks.train_throughput import CONFIGS  # noqa: E402

RECORD = os.path.join(record.ROOT, "benchmarks", "records", "mixed_precision.json")
POLICIES = ("float32", "mixed_bfloat16")
CELLS = {"char_lm": "gru"}           # the char LM config's cell; the others are vanilla


def cpu_flags():
    """The bfloat16 instructions this CPU reports (Linux), e.g. ['amx_bf16', 'avx512_bf16']."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f
                          if line.startswith("flags")), [])
    except OSError:
        return []
    return sorted(f for f in flags if f in ("avx512_bf16", "amx_bf16", "amx_tile"))


def batches(cfg, n, seed=0):
    """n (x, y) batches of a learnable task: y<t> = the token (or the argmax of the first C
    features) at t - 1."""
    rng = np.random.default_rng(seed)
    B, T, C = cfg["B"], cfg["T"], cfg["C"]
    out = []
    for _ in range(n):
        if cfg.get("V"):
            x = rng.integers(0, cfg["V"], (B, T))
            prev = x
        else:
            x = rng.standard_normal((B, T, cfg["X"])).astype(np.float32)
            prev = x[:, :, :C].argmax(-1)
        y = np.concatenate([np.zeros((B, 1), np.int64), prev[:, :-1]], 1) % C
        out.append((tf.constant(x), tf.constant(y, tf.int32)))
    return out


def make_step(cfg, cell, policy):
    """A training step of RNN -> Dense under `policy`, from seeded initial weights."""
    keras.utils.set_random_seed(0)
    layer = rnn_tf.RNN(cfg["H"], cell=cell, return_sequences=True, input_dim=cfg.get("V"),
                       dtype=policy)
    head = keras.layers.Dense(cfg["C"], dtype=policy)
    opt = keras.optimizers.Adam(1e-3)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            logits = tf.cast(head(layer(x)), tf.float32)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        variables = layer.trainable_variables + head.trainable_variables
        grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, variables)]
        opt.apply_gradients(zip(grads, variables))
        return loss
    return step


def bench(name, cfg, steps, chunks):
    data = batches(cfg, 8)
    cell = CELLS.get(name, "vanilla")
    runs = {p: make_step(cfg, cell, p) for p in POLICIES}
    for step in runs.values():
        for x, y in data[:2]:
            step(x, y).numpy()                      # trace and warm up
    seconds = {p: [] for p in POLICIES}
    losses = {p: [] for p in POLICIES}
    per_chunk = steps // chunks
    for c in range(chunks):
        for p, step in runs.items():
            t0 = time.perf_counter()
            for i in range(per_chunk):
                x, y = data[(c * per_chunk + i) % len(data)]
                losses[p].append(step(x, y))
            losses[p][-1].numpy()
            seconds[p].append((time.perf_counter() - t0) / per_chunk)
    tokens = cfg["B"] * cfg["T"]
    rows = []
    for p in POLICIES:
        final = [float(v) for v in losses[p][-10:]]
        rows.append({"config": name, "cell": cell, "policy": p,
                     "tokens_per_s": round(statistics.median(tokens / s for s in seconds[p]),
                                           1),
                     "first_loss": round(float(losses[p][0]), 4),
                     "final_loss": round(statistics.mean(final), 4), "steps": len(losses[p])})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", nargs="*", default=["char", "seed", "wide", "long", "char_lm"])
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--chunks", type=int, default=5)
    record.add_flags(p, "mixed_precision")
    args = p.parse_args()
    if args.table:
        return print(table(record.read(RECORD)))
    rec = record.start()
    rec["cpu_bf16_flags"] = cpu_flags()
    rec["rows"] = [row for name in args.configs
                   for row in bench(name, CONFIGS[name], args.steps, args.chunks)]
    rec.update(steps=args.steps, chunks=args.chunks)
    if args.record:
        rec = record.write(RECORD, rec)
        record.write_section("mixed_precision", table(rec))
    print(table(rec))


def table(rec):
    """The markdown table of a record: per shape, each policy's tokens/s and final loss."""
    flags = ", ".join(rec["cpu_bf16_flags"]) or "none"
    lines = [f"{rec['steps']} steps per policy; the loss is the mean of the last 10. "
             f"bfloat16 instructions this CPU reports: {flags}.", "",
             "| shape | cell | float32 tokens/s | mixed_bfloat16 tokens/s | speed-up | "
             "float32 loss | mixed_bfloat16 loss |", "|---|---|---|---|---|---|---|"]
    by = {}
    for r in rec["rows"]:
        by.setdefault(r["config"], {})[r["policy"]] = r
    for name, pair in by.items():
        f32, bf16 = pair["float32"], pair["mixed_bfloat16"]
        cfg = CONFIGS[name]
        shape = f"{name} B{cfg['B']} T{cfg['T']} H{cfg['H']}"
        lines.append(f"| {shape} | {f32['cell']} | {f32['tokens_per_s']:,.0f} | "
                     f"{bf16['tokens_per_s']:,.0f} | "
                     f"{bf16['tokens_per_s'] / f32['tokens_per_s']:.2f}× | "
                     f"{f32['final_loss']:.3f} | {bf16['final_loss']:.3f} |")
    lines += ["", record.provenance(rec)]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
