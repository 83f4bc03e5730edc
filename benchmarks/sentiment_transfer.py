"""What carries sentiment from one domain to another, without the classifier: VADER's
ratings summed by a fixed rule, and a linear probe of the pretrained character-LM states.
Both are scored on the cross-domain proxy of benchmarks/sentiment_cross_domain.py (train
on one UCI source, score the other source's sentences outside the results table's
validation and test splits), so they sit beside that script's table.

    python benchmarks/sentiment_transfer.py            # ~2 min on 2 cores
    python benchmarks/sentiment_transfer.py --record   # + record and RESULTS.md's table
    python benchmarks/sentiment_transfer.py --table    # the committed record's table

- lexicon rule: a sentence is positive when the sum of its words' VADER ratings, with
  VADER's negation rule (the classifier's own lexicon features, `model.lexicon` of
  configs/sentiment.py), is above 0. Nothing is trained; the row also gives the share of sentences with no rated
  word, where the rule says negative.
- char-LM probe: each sentence's word states from the LMs that configs/sentiment.py's
  `char_lm` variant names (configs/char_lm_english.py's; `rnn_tf.CharLMEmbedding`, frozen), pooled as [mean over words; max over words]
  <float32>[2 * 2 * units], standardised on the training sentences, then L2-regularised
  logistic regression on the source's train split (800 sentences). The L2 weight is the
  one of `L2_GRID` with the best accuracy on the source's validation split.
"""

import argparse
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks import record  # noqa: E402

RECORD = os.path.join(ROOT, "benchmarks", "records", "sentiment_transfer.json")
L2_GRID = (1e-3, 1e-2, 1e-1, 1.0)
ROWS = ("lexicon rule", "char-LM probe")


def fit_logistic(x, y, l2, steps=2000):
    """L2-regularised logistic regression by full-batch gradient descent on standardised
    features: x <float>[N, D], y <int>[N] in {0, 1} -> predict(z <float>[M, D]) ->
    <bool>[M] (True: class 1). The loss is mean cross-entropy + l2/2 * |w|^2 (the bias
    is not penalised); the step is 1/L, L the gradient's Lipschitz bound
    (|[x, 1]|_2^2 / 4N + l2), so any l2 converges."""
    x = np.asarray(x, np.float64)
    mean, std = x.mean(0), x.std(0) + 1e-6
    xs, y = (x - mean) / std, np.asarray(y, np.float64)
    step = 1.0 / (np.linalg.norm(np.c_[xs, np.ones(len(xs))], 2) ** 2 / (4 * len(xs)) + l2)
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(xs @ w + b)))
        w -= step * (xs.T @ (p - y) / len(y) + l2 * w)
        b -= step * float(np.mean(p - y))
    return lambda z: ((np.asarray(z, np.float64) - mean) / std) @ w + b > 0


def sentiment_task(variant="char_lm"):
    """The sentiment classifier's task (configs/sentiment.py), whose tokens, lexicon and
    LM words the baselines read, so that they see a sentence as the classifier does."""
    from configs import sentiment
    from pipelines import tasks
    return tasks.get(sentiment.get_config(variant))


def lexicon_rule(task, sentences):
    """<bool>[N] positive by the summed ratings of the classifier's lexicon features
    (`task.valence` on `task.tokens`), and <bool>[N] whether a sentence has a rated word."""
    per_word = task.valence(task.tokens(sentences)).to_list()
    return (np.array([sum(v) for v in per_word]) > 0,
            np.array([any(x != 0 for x in v) for v in per_word]))


def pooled_states(task, layer, table, sentences):
    """<float32>[N, 4 * units]: [mean; max] over each sentence's words (`task.lm_words`,
    as the classifier gives them to the LMs) of the states `layer`, a
    `rnn_tf.CharLMEmbedding`, gives them; `table` maps characters to the LMs' ids."""
    from pipelines.tasks import pretrained
    states = pretrained.lm_states(layer, pretrained.lm_features(task.lm_words(sentences),
                                                                table))
    return np.stack([np.concatenate([w.mean(0), w.max(0)])
                     for w in (s.numpy() for s in states)])


def measure(task):
    """{"lexicon rule": {...}, "char-LM probe": {...}}, each with per-direction results."""
    import rnn_tf
    from benchmarks.sentiment_cross_domain import proxy_rows
    from pipelines.datasets.sentiment_labelled_sentences import (SOURCES, read_lines,
                                                                 split_indices)
    from pipelines.tasks import pretrained
    manual_dir = task.config.data.manual_dir
    paths = [os.path.join(ROOT, p) for p in task.config.model.char_lm]
    layer = rnn_tf.CharLMEmbedding(*paths)
    table = pretrained.lm_table(pretrained.char_lm_vocab(paths))
    out = {name: {} for name in ROWS}
    for train_on in SOURCES:
        test_on = [s for s in SOURCES if s != train_on][0]
        key = f"{train_on}->{test_on}"
        other = proxy_rows(manual_dir, test_on)
        y_other = np.array([r[2] for r in other])
        positive, rated = lexicon_rule(task, [r[1] for r in other])
        out["lexicon rule"][key] = {"other_domain": float(np.mean(positive == y_other)),
                                    "unrated_share": float(np.mean(~rated)),
                                    "other_domain_sentences": len(other)}
        rows = read_lines(manual_dir, (train_on,))
        split = split_indices(len(rows))
        x = {name: pooled_states(task, layer, table, [rows[i][1] for i in idx])
             for name, idx in split.items()}
        y = {name: np.array([rows[i][2] for i in idx]) for name, idx in split.items()}
        scores = {l2: float(np.mean(fit_logistic(x["train"], y["train"], l2)(x["validation"])
                                    == y["validation"])) for l2 in L2_GRID}
        l2 = max(L2_GRID, key=lambda v: (scores[v], v))      # ties: the stronger penalty
        predict = fit_logistic(x["train"], y["train"], l2)
        x_other = pooled_states(task, layer, table, [r[1] for r in other])
        out["char-LM probe"][key] = {
            "l2": l2, "validation": scores[l2],
            "in_domain_test": float(np.mean(predict(x["test"]) == y["test"])),
            "other_domain": float(np.mean(predict(x_other) == y_other)),
            "other_domain_sentences": len(other)}
        print(f"{key}: lexicon rule {out['lexicon rule'][key]['other_domain']:.3f}; "
              f"char-LM probe (l2 {l2:g}) {out['char-LM probe'][key]['other_domain']:.3f}",
              flush=True)
    return out


def table(rec):
    """RESULTS.md's table, from the record."""
    lines = ["| baseline | other domain, mean | per direction (trained on -> scored on) | "
             "in-domain test, mean |", "|---|---|---|---|"]
    for name in ROWS:                    # the record's keys are sorted
        runs = rec["results"][name]
        mean = np.mean([r["other_domain"] for r in runs.values()])
        each = ", ".join(f"{k} {r['other_domain']:.3f}" for k, r in runs.items())
        inside = [r["in_domain_test"] for r in runs.values() if "in_domain_test" in r]
        lines.append(f"| {name} | {mean:.3f} | {each} | "
                     f"{f'{np.mean(inside):.3f}' if inside else '-'} |")
    unrated = np.mean([r["unrated_share"] for r in rec["results"]["lexicon rule"].values()])
    lines += ["", f"{unrated:.0%} of the other domain's sentences have no rated word (the "
              f"rule calls them negative). {record.provenance(rec)}"]
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    record.add_flags(p, "sentiment_transfer")
    args = p.parse_args()
    if args.table:
        print(table(record.read(RECORD)))
        return
    from pipelines.tasks import pretrained
    task = sentiment_task()
    rec = dict(record.start(), results=measure(task),   # which LM files the probe read
               char_lm_files=pretrained.files_digest(task.config.model.char_lm)[
                   "char_lm_files"])
    if args.record:
        rec = record.write(RECORD, rec)
        record.write_section("sentiment_transfer", table(rec))
    print(table(rec))


if __name__ == "__main__":
    main()
