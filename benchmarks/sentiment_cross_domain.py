"""How the sentiment model does on a domain it never saw: train on one source of the UCI
set (amazon cell-phone reviews or imdb movie reviews) and score every sentence of the
other with the exported SavedModel. A stand-in for the held-out third source (yelp), which
is not in ../shared.

    python benchmarks/sentiment_cross_domain.py                  # both directions, ~1 min
    python benchmarks/sentiment_cross_domain.py --seeds 0 1 2     # and the mean over seeds
    python benchmarks/sentiment_cross_domain.py --set model.lexicon=   # without the lexicon

Each direction runs `python -m pipelines.train --config=<config>
--config.data.dataset=sentiment_labelled_sentences/<source>` into
bench_out/cross_domain/<source>, then prints the in-domain test accuracy (100 sentences of
the same source) and the accuracy on the other source's sentences that are not in the
results table's validation or test split (`sentiment_labelled_sentences/all`): the proxy
guides choices about the model, and choices touch no evaluation data
(docs/testing.md). That leaves 799 of amazon's 1,000 sentences and 795 of imdb's.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def other_domain_accuracy(saved_model, rows):
    import tensorflow as tf
    serve = tf.saved_model.load(saved_model).signatures["serving_default"]
    p = serve(sentences=tf.constant([s for _, s, _ in rows]))["probability"].numpy()
    return float(sum((pi > 0.5) == (y == 1) for pi, (_, _, y) in zip(p, rows)) / len(rows))


def proxy_rows(manual_dir, source):
    """[(source, sentence, label)]: the sentences of `source` that are in neither the
    validation nor the test split of the results table's data set (the `all` config)."""
    from pipelines.datasets.sentiment_labelled_sentences import read_lines, split_indices
    every = read_lines(manual_dir)
    split = split_indices(len(every))
    held_out = {every[i][:2] for name in ("validation", "test") for i in split[name]}
    return [r for r in read_lines(manual_dir, (source,)) if r[:2] not in held_out]


def main():
    from configs import supervised
    from pipelines.datasets.sentiment_labelled_sentences import SOURCES
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="configs/sentiment.py")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a config override, e.g. model.units=32 (repeatable)")
    p.add_argument("--seeds", type=int, nargs="*", default=[None],
                   help="train.seed values: each direction is trained once per seed")
    p.add_argument("--workdir", default=os.path.join(ROOT, "bench_out", "cross_domain"))
    args = p.parse_args()
    manual_dir = os.path.join(supervised.data_root(), "sentiment_labelled_sentences")
    results = {}
    for seed, train_on in [(s, t) for s in args.seeds for t in SOURCES]:
        test_on = [s for s in SOURCES if s != train_on][0]
        workdir = os.path.join(args.workdir, train_on)
        shutil.rmtree(workdir, ignore_errors=True)
        cmd = [sys.executable, "-m", "pipelines.train", f"--config={args.config}",
               f"--config.data.dataset=sentiment_labelled_sentences/{train_on}",
               f"--workdir={workdir}"] + [f"--config.{kv}" for kv in args.set]
        if seed is not None:
            cmd.append(f"--config.train.seed={seed}")
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"error: {' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
        with open(os.path.join(workdir, "evaluate", "metrics.json")) as f:
            metrics = json.load(f)
        rows = proxy_rows(manual_dir, test_on)
        other = other_domain_accuracy(os.path.join(workdir, "export", "saved_model"), rows)
        key = f"{train_on}->{test_on}" + ("" if seed is None else f" seed {seed}")
        results[key] = {"in_domain_test": metrics["test"]["accuracy"], "other_domain": other,
                        "other_domain_sentences": len(rows)}
        print(f"{key}: in-domain test {metrics['test']['accuracy']:.3f}, "
              f"{len(rows):,} {test_on} sentences outside the table's validation and test "
              f"{other:.3f}", flush=True)
    mean = {k: round(sum(r[k] for r in results.values()) / len(results), 4)
            for k in ("in_domain_test", "other_domain")}
    print(f"mean over {len(results)} runs: in-domain test {mean['in_domain_test']:.3f}, "
          f"other domain {mean['other_domain']:.3f}")
    print(json.dumps({"config": args.config, "overrides": args.set, "results": results,
                      "mean": mean}))


if __name__ == "__main__":
    main()
