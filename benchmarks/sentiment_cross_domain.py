"""How the sentiment model does on a domain it never saw: train on one source of the UCI
set (amazon cell-phone reviews or imdb movie reviews) and score every sentence of the
other with the exported SavedModel. A stand-in for the held-out third source (yelp), which
is not in ../shared.

    python benchmarks/sentiment_cross_domain.py                  # both directions, ~1 min
    python benchmarks/sentiment_cross_domain.py --seeds 0 1 2     # and the mean over seeds
    python benchmarks/sentiment_cross_domain.py --set model.lexicon=   # without the lexicon
    python benchmarks/sentiment_cross_domain.py --record   # without / with char-LM states
    python benchmarks/sentiment_cross_domain.py --render   # RESULTS.md's table, no runs

Each direction runs `python -m pipelines.train --config=<config>
--config.data.dataset=sentiment_labelled_sentences/<source>` into
bench_out/cross_domain/<source>, then prints the in-domain test accuracy (100 sentences of
the same source) and the accuracy on the other source's sentences that are not in the
results table's validation or test split (`sentiment_labelled_sentences/all`): the proxy
guides choices about the model, and choices touch no evaluation data
(docs/testing.md). That leaves 799 of amazon's 1,000 sentences and 795 of imdb's.

`--record` runs the config without and with pretrained character-LM states (its
`char_lm` variant; the LMs of configs/char_lm_english.py), seeds 0 1 2 by default, and
writes the record and RESULTS.md's table: each setting's mean, its accuracy per seed
(both directions averaged) and the range and standard deviation over seeds.
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

from benchmarks import record  # noqa: E402


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


def measure(config, overrides, seeds, workdir, manual_dir):
    """{"<train>-><other>[ seed s]": {in_domain_test, other_domain, other_domain_sentences}}:
    each direction trained once per seed with `config` and `overrides`."""
    from pipelines.datasets.sentiment_labelled_sentences import SOURCES
    results = {}
    for seed, train_on in [(s, t) for s in seeds for t in SOURCES]:
        test_on = [s for s in SOURCES if s != train_on][0]
        run_dir = os.path.join(workdir, train_on)
        shutil.rmtree(run_dir, ignore_errors=True)
        cmd = [sys.executable, "-m", "pipelines.train", f"--config={config}",
               f"--config.data.dataset=sentiment_labelled_sentences/{train_on}",
               f"--workdir={run_dir}"] + [f"--config.{kv}" for kv in overrides]
        if seed is not None:
            cmd.append(f"--config.train.seed={seed}")
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"error: {' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
        with open(os.path.join(run_dir, "evaluate", "metrics.json")) as f:
            metrics = json.load(f)
        rows = proxy_rows(manual_dir, test_on)
        other = other_domain_accuracy(os.path.join(run_dir, "export", "saved_model"), rows)
        key = f"{train_on}->{test_on}" + ("" if seed is None else f" seed {seed}")
        results[key] = {"in_domain_test": metrics["test"]["accuracy"], "other_domain": other,
                        "other_domain_sentences": len(rows), "seed": seed}
        print(f"{config} {key}: in-domain test {metrics['test']['accuracy']:.3f}, "
              f"{len(rows):,} {test_on} sentences outside the table's validation and test "
              f"{other:.3f}", flush=True)
    return results


def summarise(results):
    """The means over every run, and the spread over seeds of the other-domain accuracy
    (each seed's mean over both directions): {in_domain_test, other_domain, by_seed,
    seed_range, seed_std}."""
    import numpy as np
    mean = {k: round(sum(r[k] for r in results.values()) / len(results), 4)
            for k in ("in_domain_test", "other_domain")}
    seeds = sorted({r["seed"] for r in results.values()}, key=str)
    by_seed = [float(np.mean([r["other_domain"] for r in results.values()
                              if r["seed"] == s])) for s in seeds]
    return dict(mean, by_seed=[round(x, 4) for x in by_seed],
                seed_range=round(max(by_seed) - min(by_seed), 4),
                seed_std=round(float(np.std(by_seed)), 4))


def table(rec):
    """RESULTS.md's with/without table, from the record."""
    lines = ["| sentiment config | other domain, mean | per seed (mean of both directions) "
             "| seed range / std | in-domain test, mean |", "|---|---|---|---|---|"]
    for name in SETTINGS:                # without, then with (the record is key-sorted)
        s = rec["settings"][name]
        m = s["summary"]
        lines.append(f"| `{s['config']}` ({name}) | {m['other_domain']:.3f} | "
                     f"{', '.join(f'{x:.3f}' for x in m['by_seed'])} | "
                     f"{m['seed_range']:.3f} / {m['seed_std']:.3f} | "
                     f"{m['in_domain_test']:.3f} |")
    a, b = (rec["settings"][k]["summary"] for k in SETTINGS)
    gain, spread = b["other_domain"] - a["other_domain"], max(a["seed_range"],
                                                              b["seed_range"])
    lines += ["", f"With the states minus without: {gain:+.3f} on the other domain; the "
              f"larger seed range is {spread:.3f}, so the difference is "
              f"{'beyond' if abs(gain) > spread else 'within'} the seed spread. "
              f"{rec['seeds_note']} {record.provenance(rec)}"]
    return "\n".join(lines)


# --record's two settings: the config without and with pretrained character-LM states
SETTINGS = {"without char-LM states": "configs/sentiment.py",
            "with char-LM states": "configs/sentiment.py:char_lm"}
RECORD = os.path.join(ROOT, "benchmarks", "records", "sentiment_cross_domain.json")


def main():
    from configs import supervised
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="configs/sentiment.py")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a config override, e.g. model.units=32 (repeatable)")
    p.add_argument("--seeds", type=int, nargs="*", default=None,
                   help="train.seed values: each direction is trained once per seed "
                        "(default: the config's seed; with --record: 0 1 2)")
    p.add_argument("--workdir", default=os.path.join(ROOT, "bench_out", "cross_domain"))
    p.add_argument("--record", action="store_true",
                   help="run configs/sentiment.py without and with pretrained character-LM "
                        "states (its char_lm variant) and write "
                        "benchmarks/records/sentiment_cross_domain.json and RESULTS.md's "
                        "table")
    p.add_argument("--render", action="store_true",
                   help="rewrite RESULTS.md's table from the record, measuring nothing")
    args = p.parse_args()
    manual_dir = os.path.join(supervised.data_root(), "sentiment_labelled_sentences")
    if args.render:
        with open(RECORD) as f:
            rec = json.load(f)
        record.write_section("sentiment_cross_domain", table(rec))
        print(table(rec))
        return
    if args.record:
        seeds = args.seeds or [0, 1, 2]
        rec = dict(record.start(), seeds=seeds, overrides=args.set, settings={},
                   seeds_note=f"Seeds {', '.join(map(str, seeds))}, both directions each.")
        for name, config in SETTINGS.items():
            results = measure(config, args.set, seeds, args.workdir, manual_dir)
            rec["settings"][name] = {"config": config, "results": results,
                                     "summary": summarise(results)}
        rec = record.write(RECORD, rec)
        record.write_section("sentiment_cross_domain", table(rec))
        print(table(rec))
        return
    results = measure(args.config, args.set, args.seeds or [None], args.workdir, manual_dir)
    summary = summarise(results)
    mean = {k: summary[k] for k in ("in_domain_test", "other_domain")}
    print(f"mean over {len(results)} runs: in-domain test {mean['in_domain_test']:.3f}, "
          f"other domain {mean['other_domain']:.3f}")
    print(json.dumps({"config": args.config, "overrides": args.set, "results": results,
                      "mean": mean}))


if __name__ == "__main__":
    main()
