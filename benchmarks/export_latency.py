"""The exported `generate`'s speed, measured where a serving user meets it: in a fresh
process that loads the SavedModel without this project, beside the in-process generator
at the same model size.

    python benchmarks/export_latency.py               # ~3 min on 2 cores
    python benchmarks/export_latency.py --record      # + record and docs/speed.md's table
    python benchmarks/export_latency.py --table       # the table of the committed record

The model is the main job's (configs/default.py: one vanilla layer of 256 units over the
pydoc corpus's whole vocabulary), trained for a few steps by `python -m pipelines.train`:
latency does not depend on the weights' values. The pipeline's own export is measured,
and the same model exported again for each other unroll of the served loop in
`--unroll` (`rnn_tf.served_sampling.UNROLL`, the steps per trip). Each export is measured
in `--repeats` fresh processes started with `python -I` (the project is not importable
there, and each process checks that none of it was imported): the load, the first call
(prime "The ", 300 tokens, temperature 0.8), then µs per token over `--tokens` tokens
after a warm-up call (the best of 3). A first call is mostly TensorFlow preparing the
signature's graph; the library's unroll is also measured with the two process settings
that take most of that time switched off: oneDNN's graph rewrites
(TF_ENABLE_ONEDNN_OPTS=0) and Grappler
(`tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})`).
The in-process row is `rnn_tf.sampling.Generator.generate` (one XLA-compiled loop) on the
same model, in a process of its own.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import record  # noqa: E402

RECORD = os.path.join(record.ROOT, "benchmarks", "records", "export_latency.json")
PRIME, FIRST_LENGTH, TEMPERATURE = "The ", 300, 0.8

# Run as `python -I -c MEASURE <saved_model> <grappler on|off> <tokens>`: stdout is one
# JSON line.
MEASURE = r"""
import json, os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
path, grappler, tokens = sys.argv[1], sys.argv[2], int(sys.argv[3])
if grappler == "off":
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
clock = time.perf_counter
t0 = clock()
generate = tf.saved_model.load(path).signatures["generate"]
t1 = clock()
def call(length):
    out = generate(prime=tf.constant(%(prime)r), length=tf.constant(length),
                   temperature=tf.constant(%(temperature)r), seed=tf.constant(0))
    return out["text"].numpy()
t2 = clock()
first = call(%(first)d)
t3 = clock()
call(tokens)
times = []
for _ in range(3):
    t = clock()
    text = call(tokens)
    times.append(clock() - t)
project = sorted(m for m in sys.modules if m.split(".")[0] in ("rnn_tf", "pipelines"))
assert not project, project
assert len(text.decode("utf-8")) == len(%(prime)r) + tokens
print(json.dumps({"load_ms": (t1 - t0) * 1e3, "first_call_ms": (t3 - t2) * 1e3,
                  "us_per_token": min(times) / tokens * 1e6}))
""" % {"prime": PRIME, "temperature": TEMPERATURE, "first": FIRST_LENGTH}

# Run in the project (cwd = ROOT): `python -c REEXPORT <export dir> <unroll> <out>`.
REEXPORT = r"""
import json, os, sys
import keras, tensorflow as tf
from rnn_tf import served_sampling
from pipelines.tasks.lm import CharLMServing
export, unroll, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
served_sampling.UNROLL = unroll
model = keras.models.load_model(os.path.join(export, "char_lm.keras"))
with open(os.path.join(export, "char_lm_vocab.json")) as f:
    module = CharLMServing(model, json.load(f)["vocab"])
tf.saved_model.save(module, out, signatures={"generate": module.generate})
"""

# Run in the project: `python -c IN_PROCESS <export dir> <tokens>`.
IN_PROCESS = r"""
import json, os, sys, time
import keras, tensorflow as tf
from rnn_tf.sampling import Generator
export, tokens = sys.argv[1], int(sys.argv[2])
with open(os.path.join(export, "char_lm_vocab.json")) as f:
    vocab = json.load(f)["vocab"]
gen = Generator(keras.models.load_model(os.path.join(export, "char_lm.keras")))
prime = tf.constant([[vocab.index(c) if c in vocab else 0 for c in %(prime)r]])
run = lambda n: gen.generate(prime, n, temperature=%(temperature)r, seed=0).numpy()
t = time.perf_counter()
run(%(first)d)
first = time.perf_counter() - t
run(tokens)
times = []
for _ in range(3):
    t = time.perf_counter()
    run(tokens)
    times.append(time.perf_counter() - t)
print(json.dumps({"first_call_ms": first * 1e3, "us_per_token": min(times) / tokens * 1e6}))
""" % {"prime": PRIME, "temperature": TEMPERATURE, "first": FIRST_LENGTH}

SETTINGS = {"default": ({}, "on"),
            "oneDNN rewrites off": ({"TF_ENABLE_ONEDNN_OPTS": "0"}, "on"),
            "Grappler off": ({}, "off"),
            "both off": ({"TF_ENABLE_ONEDNN_OPTS": "0"}, "off")}


def _json_line(args, cwd, env=None):
    out = subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True,
                         text=True, timeout=1800).stdout
    return json.loads(out.strip().splitlines()[-1])


def train(workdir):
    """The main job's model, a few steps trained; returns its export stage's directory."""
    subprocess.run([sys.executable, "-m", "pipelines.train", "--config=configs/default.py:tiny",
                    "--config.model.units=256", "--config.data.max_chars_per_split=0",
                    f"--workdir={workdir}"], cwd=record.ROOT, check=True, capture_output=True,
                   timeout=1800)
    return os.path.join(workdir, "export")


def measure(saved_model, setting, tokens, repeats, scratch):
    """Medians over `repeats` fresh processes of one export under one process setting."""
    env_extra, grappler = SETTINGS[setting]
    env = dict(os.environ, **env_extra)
    runs = [_json_line([sys.executable, "-I", "-c", MEASURE, saved_model, grappler,
                        str(tokens)], cwd=scratch, env=env) for _ in range(repeats)]
    return {key: round(statistics.median(r[key] for r in runs), 2)
            for key in ("load_ms", "first_call_ms", "us_per_token")} | {
        "first_call_ms_runs": [round(r["first_call_ms"], 1) for r in runs]}


def main():
    from rnn_tf import served_sampling
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--unroll", default="1,2,4,8",
                   help="served-loop unrolls to export and measure besides the library's")
    p.add_argument("--tokens", type=int, default=20000)
    p.add_argument("--repeats", type=int, default=3)
    record.add_flags(p, "export_latency")
    args = p.parse_args()
    if args.table:
        return print(table(record.read(RECORD)))
    rec = record.start()
    library = served_sampling.UNROLL
    unrolls = sorted({int(k) for k in args.unroll.split(",")} | {library})
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        export = train(os.path.join(scratch, "main_job"))
        in_process = _json_line([sys.executable, "-c", IN_PROCESS, export, str(args.tokens)],
                                cwd=record.ROOT)
        for unroll in unrolls:
            if unroll == library:
                saved_model = os.path.join(export, "saved_model")   # the pipeline's export
            else:
                saved_model = os.path.join(scratch, f"unroll_{unroll}")
                subprocess.run([sys.executable, "-c", REEXPORT, export, str(unroll),
                                saved_model], cwd=record.ROOT, check=True,
                               capture_output=True, timeout=1800)
            for setting in SETTINGS if unroll == library else ["default"]:
                rows.append({"unroll": unroll, "library": unroll == library,
                             "setting": setting,
                             **measure(saved_model, setting, args.tokens, args.repeats,
                                       scratch)})
                print(rows[-1], file=sys.stderr)
    rec.update(units=256, model="configs/default.py (1 x 256 vanilla)", prime=PRIME,
               first_length=FIRST_LENGTH, temperature=TEMPERATURE, tokens=args.tokens,
               repeats=args.repeats, in_process=in_process, rows=rows)
    if args.record:
        rec = record.write(RECORD, rec)
        record.write_section("export_latency", table(rec))
    print(table(rec))


def table(rec):
    """The markdown table of a record."""
    lib = rec["in_process"]["us_per_token"]
    lines = [f"The main job's model (1 × 256 vanilla); first call: prime {rec['prime']!r}, "
             f"{rec['first_length']} tokens at temperature {rec['temperature']}; µs per "
             f"token over {rec['tokens']:,} tokens; medians of {rec['repeats']} fresh "
             "processes.", "",
             "| served loop, steps per trip | process settings | load (ms) | first call (ms) "
             "| µs per token | vs in-process |", "|---|---|---|---|---|---|"]
    for r in rec["rows"]:
        name = f"{r['unroll']}" + (" (the library's)" if r["library"] else "")
        lines.append(f"| {name} | {r['setting']} | {r['load_ms']:.0f} | "
                     f"{r['first_call_ms']:.0f} | {r['us_per_token']:.1f} | "
                     f"{r['us_per_token'] / lib:.2f}× |")
    lines += ["", f"In-process `Generator.generate` (one XLA-compiled loop) on the same "
              f"model: {lib:.1f} µs per token; its first call, which compiles the loop, "
              f"{rec['in_process']['first_call_ms']:.0f} ms.", "", record.provenance(rec)]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
