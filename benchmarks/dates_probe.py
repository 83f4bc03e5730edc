"""Held-out probes of an exported dates model, none of it from our builder's seeds.

`--probe exercise` (default): dates written the way the well-known deeplearning.ai date
exercise writes them: en_US only, faker's `date_object()` (1970 to today), babel's
short/medium/long/full formats and the exercise's numeric and named patterns (with `y`,
the calendar year), each string also lower-cased with its commas removed.
`--probe locales`: the builder's own patterns and cases, but in 14 locales it never
trains on (en_CA, de_AT, es_CO, ...), under the same numeric rule.

    python benchmarks/dates_probe.py runs/dates/export/saved_model [--n 1500 --seed 12345]
    python benchmarks/dates_probe.py runs/dates/export/saved_model --probe locales

Prints the exact match over all strings, then per pattern (or locale), then the first
misses. The model is loaded as a SavedModel, without rnn_tf.
"""

import argparse
import collections
import os
import random
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

OTHER_LOCALES = ("en_CA", "en_NZ", "en_IE", "en_ZA", "en_SG", "fr_BE", "fr_CH", "de_AT",
                 "de_CH", "es_AR", "es_CO", "it_CH", "pt_AO", "nl_BE")
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


def locale_rows(n, seed):
    """[(locale, text, iso)]: n dates per locale of OTHER_LOCALES (1600-2199, days 1-28),
    in the builder's patterns and cases under its numeric rule, written in that locale."""
    import datetime
    from pipelines.datasets import dates
    rng = random.Random(seed)
    rows = []
    for locale in OTHER_LOCALES:
        for _ in range(n):
            date = datetime.date(rng.randint(1600, 2199), rng.randint(1, 12),
                                 rng.randint(1, 28))
            pattern = rng.choice(dates.NAMED + dates.EXTRA)
            date = dates.fit_rule(date, dates.resolve(pattern, locale), rng)
            text = dates.render(date, pattern, locale, rng.choice(dates.CASES))
            rows.append((locale, text, date.isoformat()))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("saved_model")
    p.add_argument("--probe", default="exercise", choices=["exercise", "locales"])
    p.add_argument("--n", type=int, default=None,
                   help="dates (exercise; default 1,500) or dates per locale (locales; "
                        "default 150)")
    p.add_argument("--seed", type=int, default=12345)
    args = p.parse_args()
    if not os.path.isdir(args.saved_model):
        raise SystemExit(f"error: no SavedModel at {args.saved_model!r}; pass the export "
                         "directory, e.g. runs/dates/export/saved_model")
    import tensorflow as tf
    serve = tf.saved_model.load(args.saved_model).signatures["serving_default"]
    if args.probe == "locales":
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        rows = locale_rows(args.n or 150, args.seed)
        groups = OTHER_LOCALES
    else:
        rows = probe_rows(args.n or 1500, args.seed)
        groups = FORMATS
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
    for group in groups:
        print(f"  {group:12s} {right[group]:5d}/{total[group]}")
    if misses:
        print("first misses:\n" + "\n".join(misses))


if __name__ == "__main__":
    main()
