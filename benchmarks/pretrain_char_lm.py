"""The pretraining of `rnn_tf.CharLMEmbedding`'s character LMs, measured: the forward and
the backward LM of configs/char_lm_english.py, each trained by its config's command, with
its validation and test nats per character, its steps and its times, and the corpus
(sources, characters, sha256) from the ingest manifest.

The record goes to benchmarks/records/char_lm_english.json, its sentence into the config's
"Expected:" paragraph and into RESULTS.md (between the `char_lm_pretraining` markers);
`--table` prints the sentence from the record.

    python benchmarks/pretrain_char_lm.py         # ~35 min on 2 cores (2 x 15-min budget)
    python benchmarks/pretrain_char_lm.py --table
    python benchmarks/pretrain_char_lm.py --render   # the config and RESULTS.md from it

The workdirs are the config's, runs/char_lm_english and runs/char_lm_english_backward,
emptied first so that every stage runs; their exports hold the char_lm.keras files that a
task's `model.char_lm` names.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import record  # noqa: E402

RECORD = os.path.join(record.ROOT, "benchmarks", "records", "char_lm_english.json")
CONFIG = os.path.join(record.ROOT, "configs", "char_lm_english.py")
RUNS = {"forward": ("configs/char_lm_english.py", "runs/char_lm_english"),
        "backward": ("configs/char_lm_english.py:backward", "runs/char_lm_english_backward")}


def manifest(workdir, stage):
    with open(os.path.join(record.ROOT, workdir, stage, "manifest.json")) as f:
        return json.load(f)


def measure(config, workdir):
    """Runs `python -m pipelines.train --config=<config> --workdir=<workdir>` from
    nothing; its command, metrics, steps and times."""
    command = ["python", "-m", "pipelines.train", f"--config={config}",
               f"--workdir={workdir}"]
    shutil.rmtree(os.path.join(record.ROOT, workdir), ignore_errors=True)
    start = time.time()
    proc = subprocess.run([sys.executable] + command[1:], cwd=record.ROOT,
                          capture_output=True, text=True, timeout=7200)
    if proc.returncode != 0:
        raise SystemExit(f"error: {' '.join(command)} failed:\n{proc.stderr[-2000:]}")
    wall = time.time() - start
    evaluate, train = manifest(workdir, "evaluate")["metrics"], manifest(workdir, "train")
    return {"command": " ".join(command),
            "validation_nats_per_char": evaluate["validation"]["nats_per_char"],
            "test_nats_per_char": evaluate["test"]["nats_per_char"],
            "steps": train["metrics"]["steps"],
            "train_seconds": train["metrics"]["train_seconds"],
            "wall_seconds": round(wall, 1),
            "corpus": manifest(workdir, "ingest")["metrics"].get("corpus", {})}


def line(rec):
    """The sentence of a record: each direction's figures, and the corpus hash."""
    parts = [f"{name} validation {r['validation_nats_per_char']:.3f}, test "
             f"{r['test_nats_per_char']:.3f} nats/char after {r['steps']:,} steps "
             f"({r['train_seconds'] / 60:.1f} min of training, {r['wall_seconds'] / 60:.1f} "
             "min for the command)" for name, r in
             ((name, rec["runs"][name]) for name in RUNS)]      # the record's keys are sorted
    corpus = rec["runs"]["forward"]["corpus"].get("all", {})
    return (f"{'; '.join(parts)}; corpus {corpus.get('chars', 0):,} characters, sha256 "
            f"{corpus.get('sha256', '?')[:12]}. {record.provenance(rec)}")


def expected_paragraph(rec):
    """configs/char_lm_english.py's 'Expected:' paragraph, from the record."""
    return textwrap.fill(f"Expected: {line(rec)} (benchmarks/records/char_lm_english.json)",
                         width=92)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--table", action="store_true", help="print the recorded sentence")
    parser.add_argument("--render", action="store_true",
                        help="rewrite the config's Expected paragraph and RESULTS.md's "
                             "section from the record, measuring nothing")
    args = parser.parse_args()
    if args.table or args.render:
        with open(RECORD) as f:
            rec = json.load(f)
        if args.render:
            render(rec)
        print(line(rec))
        return
    rec = record.start()
    rec["runs"] = {}
    for name, (config, workdir) in RUNS.items():
        rec["runs"][name] = measure(config, workdir)
        print(name, json.dumps({k: v for k, v in rec["runs"][name].items()
                                if k != "corpus"}), flush=True)
    rec = record.write(RECORD, rec)
    render(rec)
    print(line(rec))


def render(rec):
    """The config's 'Expected:' paragraph and RESULTS.md's section, from the record."""
    record.replace_paragraph(CONFIG, "Expected:", expected_paragraph(rec))
    record.write_section("char_lm_pretraining", line(rec))


if __name__ == "__main__":
    main()
