"""The main job, measured: `python -m pipelines.train` (configs/default.py) from nothing,
with its validation and test nats per character, its steps and its times.

The record goes to benchmarks/records/main_job.json and its line into the README (between
the `main_job` markers); `--table` prints the line from the record.

    python benchmarks/main_job.py              # ~1-4 min on 2 cores
    python benchmarks/main_job.py --table
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import record  # noqa: E402

RECORD = os.path.join(record.ROOT, "benchmarks", "records", "main_job.json")


def measure(workdir):
    """Runs the main job into `workdir`; its metrics, steps and times."""
    start = time.time()
    subprocess.run([sys.executable, "-m", "pipelines.train", f"--workdir={workdir}"],
                   cwd=record.ROOT, check=True, capture_output=True, timeout=3600)
    wall = time.time() - start

    def manifest(stage):
        with open(os.path.join(workdir, stage, "manifest.json")) as f:
            return json.load(f)
    evaluate, train = manifest("evaluate")["metrics"], manifest("train")["metrics"]
    return {"validation_nats_per_char": evaluate["validation"]["nats_per_char"],
            "test_nats_per_char": evaluate["test"]["nats_per_char"],
            "steps": train["steps"], "stopped_by": train["stopped_by"],
            "train_seconds": train["train_seconds"], "wall_seconds": round(wall, 1)}


def line(rec):
    """The README's sentence of a record."""
    r = rec["result"]
    return (f"Validation {r['validation_nats_per_char']:.3f}, test "
            f"{r['test_nats_per_char']:.3f} nats/char after {r['steps']:,} steps "
            f"({r['train_seconds']:.0f} s of training, {r['wall_seconds']:.0f} s for the "
            f"whole command, from nothing). {record.provenance(rec)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--table", action="store_true", help="print the recorded line")
    parser.add_argument("--out", default=RECORD,
                        help="record file; the README's and configs/default.py's line are "
                             "rewritten only from the default one")
    args = parser.parse_args()
    if args.table:
        with open(args.out) as f:
            print(line(json.load(f)))
        return
    rec = record.start()
    with tempfile.TemporaryDirectory() as tmp:
        rec["result"] = measure(os.path.join(tmp, "main_job"))
    rec = record.write(args.out, rec)
    if os.path.abspath(args.out) == os.path.abspath(RECORD):
        record.write_section("main_job", line(rec))
        write_config(rec)
    print(line(rec))


def expected_paragraph(rec):
    """configs/default.py's 'Expected:' paragraph, from the record."""
    return textwrap.fill(f"Expected: {line(rec)} (benchmarks/records/main_job.json)",
                         width=92)


def write_config(rec):
    """Rewrites configs/default.py's 'Expected:' paragraph from the record."""
    record.replace_paragraph(os.path.join(record.ROOT, "configs", "default.py"),
                             "Expected:", expected_paragraph(rec))


if __name__ == "__main__":
    main()
