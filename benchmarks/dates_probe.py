"""Held-out probe of an exported dates model on dates written the way a user might write
them, none of it from our builder's seeds: en_US only, faker's `date_object()` (1970 to
today), babel's short/medium/long/full formats and the numeric and named patterns of the
well-known deeplearning.ai date exercise (with `y`, the calendar year), each string also
lower-cased with its commas removed.

    python benchmarks/dates_probe.py runs/dates/export/saved_model [--n 1500 --seed 12345]

Prints the exact match over all strings, then per pattern. Loads the SavedModel only;
never imports rnn_tf.
"""

import argparse
import collections
import os
import random

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

FORMATS = ("short", "medium", "long", "full", "d MMM y", "d MMMM y", "dd MMM y",
           "d MMM, y", "d MMMM, y", "dd, MMM y", "d MM y", "MMMM d y", "MMMM d, y",
           "dd.MM.y", "d MM yy", "dd.MM.yy")


def probe_rows(n, seed):
    """[(pattern, text, iso)]: n dates, each written as is and lower-cased without commas."""
    from babel.dates import format_date
    from faker import Faker
    fake = Faker()
    fake.seed_instance(seed)
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        date, pattern = fake.date_object(), rng.choice(FORMATS)
        text = format_date(date, format=pattern, locale="en_US")
        rows.append((pattern, text, date.isoformat()))
        rows.append((pattern, text.lower().replace(",", ""), date.isoformat()))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("saved_model")
    p.add_argument("--n", type=int, default=1500)
    p.add_argument("--seed", type=int, default=12345)
    args = p.parse_args()
    if not os.path.isdir(args.saved_model):
        raise SystemExit(f"error: no SavedModel at {args.saved_model!r}; pass the export "
                         "directory, e.g. runs/dates/export/saved_model")
    import tensorflow as tf
    serve = tf.saved_model.load(args.saved_model).signatures["serving_default"]
    rows = probe_rows(args.n, args.seed)
    out = serve(sentences=tf.constant([t for _, t, _ in rows]))["output"].numpy()
    right = collections.Counter()
    total = collections.Counter()
    misses = []
    for (pattern, text, iso), o in zip(rows, out):
        total[pattern] += 1
        if o.decode() == iso:
            right[pattern] += 1
        elif len(misses) < 10:
            misses.append(f"  {text!r} -> {o.decode()} (want {iso})")
    n = sum(total.values())
    print(f"exact match {sum(right.values()) / n:.4f} ({sum(right.values())}/{n})")
    for pattern in FORMATS:
        print(f"  {pattern:12s} {right[pattern]:5d}/{total[pattern]}")
    if misses:
        print("first misses:\n" + "\n".join(misses))


if __name__ == "__main__":
    main()
