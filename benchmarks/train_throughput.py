"""Training throughput of rnn_tf.RNN against keras.layers.SimpleRNN, measured in one run.

One step = forward, BPTT and an Adam update of `layer -> Dense(C) -> softmax CE`, on the
four configurations of ../shared/bench/README.md. Reports median tokens/s over repeats
(round-robin, so drift hits every variant alike) and the ratio to keras SimpleRNN.

    python benchmarks/train_throughput.py                 # all four, ~10 min on 2 cores
    python benchmarks/train_throughput.py --configs char --repeats 5
    python benchmarks/train_throughput.py --cell gru --configs char_lm   # GRU vs keras GRU
    python benchmarks/train_throughput.py --record      # + benchmarks/records/ and docs/speed.md

`--record` writes the run's JSON record (`benchmarks/record.py`: revision, date, machine,
command) to benchmarks/records/train_throughput[_gru].json and, for the vanilla cell, its
table into docs/speed.md between the `train_throughput` markers. It also files the run's
rnn_tf ratios under its machine in benchmarks/records/train_throughput_by_machine.json,
which keeps each machine's latest run, and rewrites the `train_throughput_by_machine`
table from it: the ratios differ from machine to machine (wide most). `--table FILE`
prints a record's table; `--render` rewrites both tables from the records.

`--cell gru` times rnn_tf.RNN(cell='gru') against keras.layers.GRU instead (same variants);
`char_lm` is the shape the char LM GRU config trains (B=32, T=100, V=65, H=512).

Variants:
  keras        keras.layers.SimpleRNN(return_sequences=True) (GRU with --cell gru),
               one-hot float input, train step in tf.function (the baseline of the ratios)
  keras_xla    the same step with jit_compile=True
  rnn_tf       rnn_tf.RNN: token ids (input_dim=V) for vocabulary configs, float otherwise
  rnn_tf_xla   the same step with jit_compile=True
  rnn_tf_onehot[_xla]  rnn_tf.RNN fed the same one-hot floats as keras (vocab configs)
  keras_fused[_xla], rnn_tf_fused[_xla]
               the same layers with rnn_tf.Head's fused_softmax_loss in place of
               Dense + softmax CE (the same loss; the [B*T, C] logits are never stored).
               Not in the default set: pass them with --variants.
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

from benchmarks import record  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import rnn_tf  # noqa: E402

# The harness's four configurations (../shared/bench/README.md).
CONFIGS = {
    "char": dict(B=64, T=100, V=65, H=256, C=65),
    "seed": dict(B=32, T=50, V=10000, H=100, C=10000),
    "wide": dict(B=128, T=50, X=128, H=1024, C=128),
    "long": dict(B=16, T=1000, V=65, H=128, C=65),
    "char_lm": dict(B=32, T=100, V=65, H=512, C=65),     # configs/char_lm_shakespeare.py GRU
}


def make_step(layer, cfg, jit, fused=False, chunk_rows=None):
    opt = keras.optimizers.Adam(1e-3)
    if fused:
        head = rnn_tf.Head(cfg["C"])          # same glorot_uniform kernel and zero bias
        head.build((None, cfg["H"]))
    else:
        head = keras.layers.Dense(cfg["C"])

    def step(x, y):
        with tf.GradientTape() as tape:
            if fused:   # the same mean softmax CE, from the hidden states
                loss = head.fused_softmax_loss(y, layer(x), chunk_rows=chunk_rows)
            else:
                logits = head(layer(x))
                loss = tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        variables = layer.trainable_variables + head.trainable_variables
        grads = tape.gradient(loss, variables)
        grads = [tf.convert_to_tensor(g) for g in grads]   # IndexedSlices from a gather
        opt.apply_gradients(zip(grads, variables))
        return loss
    return tf.function(step, jit_compile=jit)


def variants(cfg, cell="vanilla"):
    H, V = cfg["H"], cfg.get("V")
    keras_cls = {"vanilla": keras.layers.SimpleRNN, "gru": keras.layers.GRU}[cell]
    ours = lambda **kw: (lambda: rnn_tf.RNN(H, cell=cell, return_sequences=True, **kw))
    out = {
        "keras": (lambda: keras_cls(H, return_sequences=True), "onehot", False),
        "keras_xla": (lambda: keras_cls(H, return_sequences=True), "onehot", True),
    }
    if V:
        out["rnn_tf"] = (ours(input_dim=V), "ids", False)
        out["rnn_tf_xla"] = (ours(input_dim=V), "ids", True)
        out["rnn_tf_onehot"] = (ours(), "onehot", False)
        out["rnn_tf_onehot_xla"] = (ours(), "onehot", True)
    else:
        out["rnn_tf"] = (ours(), "onehot", False)
        out["rnn_tf_xla"] = (ours(), "onehot", True)
    for name in ("keras", "keras_xla", "rnn_tf", "rnn_tf_xla"):   # keras_fused, ...
        base = name.split("_xla")[0]
        out[name.replace(base, base + "_fused")] = out[name]
    return out


def batch(cfg, seed=0):
    """One batch of shape `cfg`: labels y <int32>[B, T] and the inputs by kind, 'ids'
    <int32>[B, T] and their 'onehot' floats (vocabulary shapes), or dense 'onehot' floats
    <float32>[B, T, X]."""
    rng = np.random.default_rng(seed)
    B, T = cfg["B"], cfg["T"]
    y = tf.constant(rng.integers(0, cfg["C"], (B, T)), tf.int32)
    if cfg.get("V"):
        ids = tf.constant(rng.integers(0, cfg["V"], (B, T)), tf.int32)
        return y, {"ids": ids, "onehot": tf.one_hot(ids, cfg["V"])}
    return y, {"onehot": tf.constant(rng.standard_normal((B, T, cfg["X"])), tf.float32)}


def round_robin(runs, y, repeats):
    """{name: [seconds per step, per round]}: `repeats` rounds, each timing every run's
    (step, x, n) for n steps in turn, so drift hits every run alike."""
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, (step, x, n) in runs.items():
            t0 = time.perf_counter()
            for _ in range(n):
                loss = step(x, y)
            loss.numpy()
            times[name].append((time.perf_counter() - t0) / n)
    return times


def bench_config(name, cfg, args):
    B, T = cfg["B"], cfg["T"]
    y, data = batch(cfg)
    runs = {}
    for vname, (make, kind, jit) in variants(cfg, args.cell).items():
        if (vname not in args.variants) if args.variants else ("_fused" in vname):
            continue
        keras.utils.set_random_seed(0)
        step = make_step(make(), cfg, jit, fused="_fused" in vname,
                         chunk_rows=args.chunk_rows)
        x = data[kind]
        step(x, y).numpy()                                  # trace / compile
        t0 = time.perf_counter()
        for _ in range(args.warmup):
            step(x, y)
        step(x, y).numpy()
        est = (time.perf_counter() - t0) / (args.warmup + 1)
        n = max(3, int(args.target_s / est))
        runs[vname] = (step, x, n)
        print(f"[{name}] {vname:18s} est {est * 1e3:8.2f} ms/step -> {n} steps/rep",
              file=sys.stderr, flush=True)
    times = round_robin(runs, y, args.repeats)
    tok = {v: statistics.median([B * T / s for s in ts]) for v, ts in times.items()}
    base = tok.get("keras")
    rows = []
    for vname, t in tok.items():
        row = dict(config=name, variant=vname, tokens_per_s=round(t, 1),
                   ratio_vs_keras=round(t / base, 3) if base else None,
                   reps=[round(B * T / s, 1) for s in times[vname]])
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", nargs="*", default=["char", "seed", "wide", "long"],
                   choices=list(CONFIGS))
    p.add_argument("--variants", nargs="*", default=None)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--target-s", type=float, default=3.0, help="seconds per repeat")
    p.add_argument("--chunk-rows", type=int, default=None,
                   help="rows per chunk of the *_fused variants' head (default: all at once)")
    p.add_argument("--cell", default="vanilla", choices=["vanilla", "gru"],
                   help="gru: rnn_tf's GRU against keras.layers.GRU")
    p.add_argument("--record", action="store_true",
                   help="write the JSON record and docs/speed.md's table")
    p.add_argument("--table", default=None, help="print the table of this record file")
    p.add_argument("--render", action="store_true",
                   help="measure nothing: rewrite docs/speed.md's tables from the records")
    args = p.parse_args()
    if args.table:
        with open(args.table) as f:
            print(table(json.load(f)))
        return
    if args.render:
        with open(RECORD) as f:
            rec = json.load(f)
        record.write_section("train_throughput", table(rec))
        record.write_section("train_throughput_by_machine",
                             machines_table(file_by_machine(rec)))
        return
    rec = record.start()
    rec["cell"] = args.cell
    rec["repeats"] = args.repeats
    rec["rows"] = []
    for name in args.configs:
        rec["rows"] += bench_config(name, CONFIGS[name], args)
    if args.record:
        name = "train_throughput" + ("_gru" if args.cell == "gru" else "")
        rec = record.write(os.path.join(record.ROOT, "benchmarks", "records",
                                        name + ".json"), rec)
        if args.cell == "vanilla":           # docs/speed.md's table is the vanilla one
            record.write_section(name, table(rec))
            if set(args.configs) == set(CONFIGS_BY_MACHINE):
                record.write_section("train_throughput_by_machine",
                                     machines_table(file_by_machine(rec)))
    print(table(rec))


RECORD = os.path.join(record.ROOT, "benchmarks", "records", "train_throughput.json")
BY_MACHINE = os.path.join(record.ROOT, "benchmarks", "records",
                          "train_throughput_by_machine.json")
CONFIGS_BY_MACHINE = ("char", "seed", "wide", "long")


def machine_key(rec):
    """The name a record's machine is filed under: CPU model, cores and memory."""
    m = rec["machine"]
    return f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB"


def file_by_machine(rec):
    """Files the rnn_tf ratios of a vanilla record of the four configs, with each ratio's
    per-round spread, under its machine in BY_MACHINE (a machine's newer run replaces its
    older one); returns the file's {machine: entry}."""
    by_machine = {}
    if os.path.exists(BY_MACHINE):
        with open(BY_MACHINE) as f:
            by_machine = json.load(f)["machines"]
    ours = {r["config"]: r for r in rec["rows"] if r["variant"] == "rnn_tf"}
    if rec["cell"] != "vanilla" or set(ours) != set(CONFIGS_BY_MACHINE):
        raise ValueError("the by-machine table takes a vanilla run of all four configs "
                         f"(this one: cell {rec['cell']!r}, configs {sorted(ours)})")
    entry = {"ratios": {c: r["ratio_vs_keras"] for c, r in ours.items()},
             "spreads": {c: [round(v, 3) for v in round_ratios(rec, r)]
                         for c, r in ours.items() if r.get("reps")},
             "repeats": rec["repeats"],
             **{k: rec[k] for k in ("revision", "dirty", "started_utc", "command",
                                    "versions")}}
    key = machine_key(rec)
    old = by_machine.get(key)
    if old is None or old["started_utc"] < rec["started_utc"] or (   # rendering the
            old["started_utc"] == rec["started_utc"] and old != entry):  # same run: no-op
        by_machine[key] = entry
        record.write(BY_MACHINE, {"machines": by_machine})
    return by_machine


def machines_table(by_machine):
    """The markdown table of rnn_tf's ratio to keras SimpleRNN per config, one row per
    machine, each ratio with its per-round spread (lowest to highest) and each row with
    the revision and date of its run; then a line naming the configs whose ratio differs
    from machine to machine (their spreads do not overlap)."""
    lines = ["| machine | " + " | ".join(CONFIGS_BY_MACHINE) + " | measured at |",
             "|---|" + "---|" * len(CONFIGS_BY_MACHINE) + "---|"]
    for key, e in sorted(by_machine.items()):
        cells = []
        for c in CONFIGS_BY_MACHINE:
            low_high = e.get("spreads", {}).get(c)
            cells.append(f"{e['ratios'][c]:.2f}×" + (
                f" ({low_high[0]:.2f} to {low_high[1]:.2f})" if low_high else ""))
        lines.append(f"| {key} | {' | '.join(cells)} | {e['revision'][:7]}"
                     f"{' (dirty tree)' if e['dirty'] else ''}, {e['started_utc']} |")
    lines.append("")
    if len(by_machine) < 2:
        lines.append("One machine has run it, so no ratio can be compared across machines "
                     "yet; a run on another machine adds its row.")
    else:
        differ = [c for c in CONFIGS_BY_MACHINE if _machines_differ(by_machine, c)]
        lines.append("Differs by machine beyond the per-round spread: " + (
            ", ".join(f"{c} ({_range(by_machine, c)})" for c in differ) if differ
            else "none of the four") + ".")
    return "\n".join(lines)


def _spread(entry, config):
    return tuple(entry.get("spreads", {}).get(config) or [entry["ratios"][config]] * 2)


def _machines_differ(by_machine, config):
    """True when two machines' per-round ranges of `config`'s ratio do not overlap."""
    ranges = [_spread(e, config) for e in by_machine.values()]
    return max(low for low, _ in ranges) > min(high for _, high in ranges)


def _range(by_machine, config):
    ratios = sorted(e["ratios"][config] for e in by_machine.values())
    return f"{ratios[0]:.2f}× to {ratios[-1]:.2f}×"


def round_ratios(rec, row):
    """(lowest, highest) of the per-round ratios of `row` to keras in its config: the
    variants run round-robin, so round i of every variant shares the machine's state."""
    keras = next(r for r in rec["rows"] if r["config"] == row["config"]
                 and r["variant"] == "keras")
    ratios = [a / b for a, b in zip(row["reps"], keras["reps"]) if b]
    return (min(ratios), max(ratios)) if ratios else (None, None)


def table(rec):
    """The markdown table of a record: tokens/s of each variant, its ratio to keras, and
    the spread of that ratio over the rounds."""
    base = {"vanilla": "keras SimpleRNN", "gru": "keras GRU"}[rec["cell"]]
    lines = [f"| config | variant | tokens/s (median of {rec['repeats']}) | ratio vs {base} "
             "| per-round ratio, lowest to highest |",
             "|---|---|---|---|---|"]
    for r in rec["rows"]:
        ratio = "-" if r["ratio_vs_keras"] is None else f"{r['ratio_vs_keras']:.2f}×"
        low, high = round_ratios(rec, r) if r.get("reps") else (None, None)
        spread = "-" if low is None else f"{low:.2f}× to {high:.2f}×"
        lines.append(f"| {r['config']} | {r['variant']} | {r['tokens_per_s']:,.0f} | "
                     f"{ratio} | {spread} |")
    if "machine" in rec:
        lines += ["", record.provenance(rec)]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
