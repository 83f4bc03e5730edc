"""Training throughput of the pipeline's one loop under tf.distribute, measured in one run.

The main job's character LM shape (B = 32 windows of T = 100 characters, H = 256, vanilla
cell; random windows from a zero state, which a multi-replica run needs) trains
`--steps` steps in a fresh process for each variant:

  default_xla        train.strategy=default, train.jit_compile=True (the main job's step)
  default            train.strategy=default, no XLA
  mirrored_2         train.strategy=mirrored over 2 logical CPU devices (no XLA: the step's
                     cross-replica all-reduce is not compiled)

tokens/s = steps x B x T / the train stage's training seconds (its manifest). The record
goes to benchmarks/records/mirrored_scaling.json and its table into docs/distribute.md (between
the `mirrored_scaling` markers); `--table` prints the table from the record.

    python benchmarks/mirrored_scaling.py              # ~5 min on 2 cores
    python benchmarks/mirrored_scaling.py --table
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import record  # noqa: E402

RECORD = os.path.join(record.ROOT, "benchmarks", "records", "mirrored_scaling.json")
VARIANTS = {
    "default_xla": ["--config.train.strategy=default", "--config.train.jit_compile=True"],
    "default": ["--config.train.strategy=default", "--config.train.jit_compile=False"],
    "mirrored_2": ["--config.train.strategy=mirrored", "--config.train.replicas=2",
                   "--config.train.jit_compile=False"],
}


def measure(name, steps, workdir):
    command = [sys.executable, "-m", "pipelines.train", "--config=configs/default.py",
               f"--workdir={workdir}", "--stages=ingest,transform,train",
               f"--config.train.steps={steps}", "--config.train.time_budget_s=0",
               "--config.train.windows=random", "--config.train.carry_state=False",
               f"--config.train.eval_every={steps}", f"--config.train.sample_every={steps}",
               f"--config.train.histogram_every={steps}", *VARIANTS[name]]
    subprocess.run(command, cwd=record.ROOT, check=True, capture_output=True, timeout=1800)
    with open(os.path.join(workdir, "train", "manifest.json")) as f:
        manifest = json.load(f)
    t = manifest["config"]["train"]
    tokens = manifest["metrics"]["steps"] * t["batch_size"] * t["seq_len"]
    seconds = manifest["metrics"]["train_seconds"]
    return {"variant": name, "steps": manifest["metrics"]["steps"], "tokens": tokens,
            "train_seconds": seconds, "tokens_per_s": round(tokens / seconds)}


def table(rec):
    """The markdown table of a record."""
    rows = {r["variant"]: r for r in rec["measurements"]}
    base = rows["default"]["tokens_per_s"]
    lines = ["| variant | tokens/s | vs default (no XLA) |", "|---|---|---|"]
    for r in rec["measurements"]:
        lines.append(f"| {r['variant']} | {r['tokens_per_s']:,} | "
                     f"{r['tokens_per_s'] / base:.2f}x |")
    lines += ["", record.provenance(rec)]
    return "\n".join(lines)


def document_section(text, rec):
    """`text` (docs/distribute.md) with the table of `rec` between the markers."""
    return record.section(text, "mirrored_scaling", table(rec))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--table", action="store_true", help="print the recorded table")
    parser.add_argument("--out", default=RECORD)
    args = parser.parse_args()
    if args.table:
        with open(args.out) as f:
            print(table(json.load(f)))
        return
    rec = record.start()
    with tempfile.TemporaryDirectory() as tmp:
        rec["measurements"] = [measure(name, args.steps, os.path.join(tmp, name))
                               for name in VARIANTS]
    rec = record.write(args.out, rec)
    record.write_section("mirrored_scaling", table(rec))
    print(table(rec))


if __name__ == "__main__":
    main()
