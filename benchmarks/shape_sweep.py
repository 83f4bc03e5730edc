"""Training throughput over a sweep of shapes: rnn_tf against Keras and PyTorch, and as a
fraction of the shape-aware bound, measured in one run.

    python benchmarks/shape_sweep.py --torch-python ../torch-venv/bin/python   # ~30 min
    python benchmarks/shape_sweep.py --H 64 256 --B 8 --T 20 --cells vanilla      # a corner
    python benchmarks/shape_sweep.py ... --record     # + record and docs/speed.md's table
    python benchmarks/shape_sweep.py --table

Every shape trains one step = forward, BPTT and an Adam update of `layer -> Dense(C)` with
softmax cross-entropy, as benchmarks/train_throughput.py does: token ids (V = C = 65) for
rnn_tf, their one-hot floats for keras.layers.SimpleRNN / GRU and for torch.nn.RNN / GRU
(the harness's way, ../shared/bench/README.md). The harness's `wide` shape (dense
X = 128, H = 1024, B = 128, T = 50) is added to the sweep. The implementations of a shape
run round-robin, `--repeats` rounds; each round times enough steps for `--target-s`
seconds (at least one); the table gives medians. Torch runs in its own process (the
Python given by --torch-python or $TORCH_PYTHON, as the harness does), its rows
skipped without one.

The shape-aware bound is the time of the products one step needs, each timed alone at
its own shape on this machine with TensorFlow: the recurrence as chains of T dependent
(B x H) @ (H x G) and (B x G) @ (G x H) products (G = H, or 3H for the GRU; an XLA loop,
so the chain pays no per-step dispatch), the weight gradient (H x BT) @ (BT x G), the
input projection and its gradient for dense inputs, and the head's three products.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import record  # noqa: E402
from benchmarks.train_throughput import (  # noqa: E402
    CONFIGS, batch, make_step, round_robin, variants)

RECORD = os.path.join(record.ROOT, "benchmarks", "records", "shape_sweep.json")
V = C = 65

# Run as `TORCH_PYTHON -c TORCH_STEPS` with one JSON shape per stdin line; prints one JSON
# line of step times per shape.
TORCH_STEPS = r"""
import json, os, sys, time
import torch
torch.set_num_threads(os.cpu_count() or 1)
for line in sys.stdin:
    s = json.loads(line)
    torch.manual_seed(0)
    B, T, H, C = s["B"], s["T"], s["H"], s["C"]
    X = s.get("X") or s["V"]
    rnn = {"vanilla": torch.nn.RNN, "gru": torch.nn.GRU}[s["cell"]](X, H, batch_first=True)
    head = torch.nn.Linear(H, C)
    opt = torch.optim.Adam(list(rnn.parameters()) + list(head.parameters()), 1e-3)
    g = torch.Generator().manual_seed(0)
    if s.get("X"):
        x = torch.randn(B, T, X, generator=g)
    else:
        x = torch.nn.functional.one_hot(torch.randint(0, X, (B, T), generator=g), X).float()
    y = torch.randint(0, C, (B * T,), generator=g)
    def step():
        opt.zero_grad()
        out, _ = rnn(x)
        loss = torch.nn.functional.cross_entropy(head(out).reshape(B * T, C), y)
        loss.backward()
        opt.step()
    t = time.perf_counter(); step(); est = time.perf_counter() - t
    step()
    n = max(1, int(s["target_s"] / max(est, 1e-6)))
    times = []
    for _ in range(s["repeats"]):
        t = time.perf_counter()
        for _ in range(n):
            step()
        times.append((time.perf_counter() - t) / n)
    print(json.dumps({"key": s["key"], "seconds": times}), flush=True)
"""


def shapes(args):
    """The sweep's shapes, then the harness's wide shape: dicts with B, T, H, C, V or X,
    cell and key."""
    out = [dict(cell=cell, H=H, B=B, T=T, V=V, C=C)
           for cell in args.cells for H in args.H for B in args.B for T in args.T]
    if args.wide:
        out += [dict(CONFIGS["wide"], cell=cell) for cell in args.cells]
    for s in out:
        s["key"] = (f"{s['cell']} H{s['H']} B{s['B']} T{s['T']}"
                    + (f" X{s['X']}" if s.get("X") else ""))
    return out


def _best_seconds(fn, repeats=5):
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _product_seconds(m, k, n):
    a, b = tf.random.normal([m, k]), tf.random.normal([k, n])
    return _best_seconds(lambda: tf.matmul(a, b).numpy())


def _chain_seconds(B, K, N, T):
    """T dependent (B x K) @ (K x N) products, as an XLA loop; each product's output is cut
    (N > K) or tiled (N < K) back to K columns to feed the next."""
    w = tf.random.normal([K, N]) * 0.01

    def feed(out):
        return out[:, :K] if N >= K else tf.tile(out, [1, K // N])

    @tf.function(jit_compile=True)
    def chain(a):
        return tf.while_loop(lambda i, a: i < T,
                             lambda i, a: (i + 1, feed(tf.matmul(a, w))), (0, a))[1]
    a0 = tf.random.normal([B, K])
    return _best_seconds(lambda: chain(a0).numpy(), repeats=3)


def bound_seconds(s):
    """The shape-aware bound of one training step of shape `s`, in seconds."""
    B, T, H = s["B"], s["T"], s["H"]
    G = 3 * H if s["cell"] == "gru" else H
    BT = B * T
    total = _chain_seconds(B, H, G, T) + _chain_seconds(B, G, H, T)    # forward, BPTT
    total += _product_seconds(H, BT, G)                               # dW_aa
    if s.get("X"):                     # dense input: x W_ax and its weight gradient
        total += _product_seconds(BT, s["X"], G) + _product_seconds(s["X"], BT, G)
    total += (_product_seconds(BT, H, s["C"]) + _product_seconds(BT, s["C"], H)
              + _product_seconds(H, BT, s["C"]))                      # the head
    return total


def tf_steps(s, target_s, repeats):
    """{implementation: [seconds per step, per round]} for keras and rnn_tf on shape s."""
    cfg = {k: s[k] for k in ("B", "T", "H", "C", "V", "X") if s.get(k)}
    y, data = batch(cfg)
    runs = {}
    for name, (make, kind, jit) in variants(cfg, s["cell"]).items():
        if name not in ("keras", "rnn_tf"):
            continue
        keras.utils.set_random_seed(0)
        step, x = make_step(make(), cfg, jit), data[kind]
        step(x, y).numpy()                                   # trace
        t = time.perf_counter()
        step(x, y).numpy()
        runs[name] = (step, x, max(1, int(target_s / (time.perf_counter() - t))))
    return round_robin(runs, y, repeats)


def torch_steps(torch_python, todo, target_s, repeats):
    """{shape key: [seconds per step, per round]} from torch in its own process."""
    lines = "".join(json.dumps(dict(s, target_s=target_s, repeats=repeats)) + "\n"
                    for s in todo)
    out = subprocess.run([torch_python, "-c", TORCH_STEPS], input=lines, text=True,
                         capture_output=True, check=True, timeout=7200).stdout
    return {r["key"]: r["seconds"] for r in map(json.loads, out.strip().splitlines())}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--H", nargs="*", type=int, default=[64, 128, 256, 512, 1024])
    p.add_argument("--B", nargs="*", type=int, default=[1, 8, 32, 128])
    p.add_argument("--T", nargs="*", type=int, default=[20, 200, 1000])
    p.add_argument("--cells", nargs="*", default=["vanilla", "gru"],
                   choices=["vanilla", "gru"])
    p.add_argument("--no-wide", dest="wide", action="store_false",
                   help="leave out the harness's wide shape")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--target-s", type=float, default=0.5, help="seconds per round")
    p.add_argument("--torch-python", default=os.environ.get("TORCH_PYTHON", ""))
    record.add_flags(p, "shape_sweep")
    args = p.parse_args()
    if args.table:
        return print(table(record.read(RECORD)))
    rec = record.start()
    todo = shapes(args)
    torch_times = {}
    if args.torch_python:           # first, while nothing else of this run holds memory
        torch_times = torch_steps(args.torch_python, todo, args.target_s, args.repeats)
        rec["torch"] = subprocess.run(
            [args.torch_python, "-c", "import torch; print(torch.__version__)"],
            capture_output=True, text=True, check=True).stdout.strip()
    rows = []
    for s in todo:
        times = tf_steps(s, args.target_s, args.repeats)
        tokens = s["B"] * s["T"]
        med = {k: statistics.median(v) for k, v in times.items()}
        row = {k: s[k] for k in ("key", "cell", "H", "B", "T") if k in s}
        row.update(rnn_tf=round(tokens / med["rnn_tf"], 1),
                   keras=round(tokens / med["keras"], 1),
                   bound=round(tokens / bound_seconds(s), 1))
        if s["key"] in torch_times:
            row["torch"] = round(tokens / statistics.median(torch_times[s["key"]]), 1)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    rec.update(rows=rows, repeats=args.repeats, target_s=args.target_s)
    if args.record:
        rec = record.write(RECORD, rec)
        record.write_section("shape_sweep", table(rec))
    print(table(rec))


def summary(rec):
    """{'below_keras': [keys], 'below_torch': [keys], 'median_vs_keras', 'median_vs_torch'
    (None without torch rows), 'median_of_bound'} of a record."""
    rows = rec["rows"]
    with_torch = [r for r in rows if "torch" in r]
    return {"below_keras": [r["key"] for r in rows if r["rnn_tf"] < r["keras"]],
            "below_torch": [r["key"] for r in with_torch if r["rnn_tf"] < r["torch"]],
            "median_vs_keras": statistics.median(r["rnn_tf"] / r["keras"] for r in rows),
            "median_vs_torch": statistics.median(r["rnn_tf"] / r["torch"]
                                                 for r in with_torch) if with_torch else None,
            "median_of_bound": statistics.median(r["rnn_tf"] / r["bound"] for r in rows)}


def table(rec):
    """The markdown table of a record, and the shapes where rnn_tf loses, by name."""
    s = summary(rec)
    vs_torch = ("no torch rows" if s["median_vs_torch"] is None
                else f"median {s['median_vs_torch']:.2f}× torch")
    lines = [f"{len(rec['rows'])} shapes: median {s['median_vs_keras']:.2f}× keras, "
             f"{vs_torch}, median {100 * s['median_of_bound']:.0f}% of the shape-aware "
             "bound.", "",
             "Slower than keras: " + (", ".join(s["below_keras"]) or "none") + ".",
             "Slower than torch: " + (", ".join(s["below_torch"]) or "none") + ".", "",
             "| cell | H | B | T | rnn_tf tokens/s | × keras | × torch | % of bound |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rec["rows"]:
        torch = f"{r['rnn_tf'] / r['torch']:.2f}×" if "torch" in r else "-"
        name = r["key"].split()
        lines.append(f"| {r['cell']}{' (wide, X=128)' if len(name) > 4 else ''} | "
                     f"{r['H']} | {r['B']} | {r['T']} | {r['rnn_tf']:,.0f} | "
                     f"{r['rnn_tf'] / r['keras']:.2f}× | {torch} | "
                     f"{100 * r['rnn_tf'] / r['bound']:.0f}% |")
    lines += ["", (f"torch {rec['torch']}; " if rec.get("torch") else "")
              + record.provenance(rec)]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
