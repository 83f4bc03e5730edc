"""Batch-1 generation latency: µs per generated token, measured in one run.

    python benchmarks/generation_latency.py            # B=1, H=256, V=65, 2,000 tokens
    python benchmarks/generation_latency.py --greedy --record   # + record and docs/speed.md table

`--record` writes the JSON record (`benchmarks/record.py`) to
benchmarks/records/generation_latency.json and its table into docs/speed.md between the
`generation_latency` markers.

Rows:
  keras_stateful_step   keras SimpleRNN(stateful) + Dense, one tf.function call per token
                        (the loop a Keras user writes)
  rnn_tf_generator      rnn_tf.sampling.Generator: the whole loop in one XLA tf.while_loop
                        (Gumbel-max draws from noise drawn before the loop)
  rnn_tf_generator_greedy  the same at temperature 0 (with --greedy)
  torch_rnn_step        torch.nn.RNN stepped from Python (only if torch is importable)
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import record  # noqa: E402
from rnn_tf import models  # noqa: E402
from rnn_tf.sampling import Generator  # noqa: E402


def keras_loop(H, V):
    rnn = keras.layers.SimpleRNN(H, return_sequences=True, stateful=True)
    head = keras.layers.Dense(V)
    inp = keras.Input(batch_shape=(1, 1, V))
    model = keras.Model(inp, head(rnn(inp)))

    @tf.function
    def step(tok):
        logits = model(tf.one_hot(tok, V), training=False)[:, -1]
        return tf.random.categorical(logits, 1, dtype=tf.int32)

    def run(n):
        tok = tf.zeros((1, 1), tf.int32)
        for _ in range(n):
            tok = step(tok)
        return tok.numpy()
    return run


def ours(H, V, temperature=1.0):
    gen = Generator(models.many_to_many(V, V, units=H))
    prime = tf.zeros((1, 1), tf.int32)
    return lambda n: gen.generate(prime, n, temperature=temperature, seed=1).numpy()


def torch_loop(H, V):
    import torch
    torch.set_num_threads(os.cpu_count() or 1)
    rnn, head = torch.nn.RNN(V, H, batch_first=True), torch.nn.Linear(H, V)

    def run(n):
        with torch.no_grad():
            h = torch.zeros(1, 1, H)
            tok = torch.zeros(1, dtype=torch.long)
            for _ in range(n):
                x = torch.nn.functional.one_hot(tok, V).float()[:, None]
                out, h = rnn(x, h)
                tok = torch.multinomial(torch.softmax(head(out[:, -1]), -1), 1)[:, 0]
        return tok
    return run


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--units", type=int, default=256)
    p.add_argument("--vocab", type=int, default=65)
    p.add_argument("--tokens", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--greedy", action="store_true",
                   help="also time the generator at temperature 0 (argmax, no sampling)")
    p.add_argument("--record", action="store_true",
                   help="write the JSON record and docs/speed.md's table")
    args = p.parse_args()
    rec = record.start()
    runs = {"keras_stateful_step": keras_loop(args.units, args.vocab),
            "rnn_tf_generator": ours(args.units, args.vocab)}
    if args.greedy:
        runs["rnn_tf_generator_greedy"] = ours(args.units, args.vocab, temperature=0.0)
    try:
        runs["torch_rnn_step"] = torch_loop(args.units, args.vocab)
    except ImportError:
        print("torch not installed: no torch row", file=sys.stderr)
    for run in runs.values():
        run(args.tokens)                       # trace / warm up
    times = {k: [] for k in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run(args.tokens)
            times[name].append((time.perf_counter() - t0) / args.tokens * 1e6)
    rec.update(units=args.units, vocab=args.vocab, tokens=args.tokens,
               repeats=args.repeats,
               rows=[{"implementation": name, "us_per_token": round(statistics.median(ts), 2),
                      "repeats_us": [round(t, 2) for t in ts]}
                     for name, ts in times.items()])
    if args.record:
        rec = record.write(RECORD, rec)
        record.write_section("generation_latency", table(rec))
    print(table(rec))


RECORD = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "benchmarks", "records", "generation_latency.json")


def table(rec):
    """The markdown table of a record: µs per token and the speed-up against keras."""
    base = next(r["us_per_token"] for r in rec["rows"]
                if r["implementation"] == "keras_stateful_step")
    lines = [f"B=1, H={rec['units']}, V={rec['vocab']}, {rec['tokens']:,} tokens, median "
             f"of {rec['repeats']}:", "",
             "| implementation | µs per token | speed-up vs keras |", "|---|---|---|"]
    for r in rec["rows"]:
        lines.append(f"| {r['implementation']} | {r['us_per_token']:.1f} | "
                     f"{base / r['us_per_token']:.1f}× |")
    lines += ["", record.provenance(rec)]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
