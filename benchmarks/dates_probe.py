"""Held-out probes of an exported dates model, none of it from our builder's seeds.

`--probe exercise` (default): dates written the way the well-known deeplearning.ai date
exercise writes them: en_US only, faker's `date_object()` (1970 to today), babel's
short/medium/long/full formats and the exercise's numeric and named patterns (with `y`,
the calendar year), each string also lower-cased with its commas removed.
`--probe locales`: the builder's own patterns and cases, but in 14 locales it never
trains on (en_CA, de_AT, es_CO, ...), under the same numeric rule.
`--probe human`: dates as people write them, per written form (HELD_OUT: forms the
builder never writes, such as "Mar. 3rd, 1976" and "March the 3rd, 1976"; TRAINED: the
builder's templates that used to fail, on dates from another seed), in English locales
trained on and not (en_CA, en_NZ, en_IE), as is, lower-cased or title-cased, with single
or doubled spaces.

    python benchmarks/dates_probe.py runs/dates/export/saved_model [--n 1500 --seed 12345]
    python benchmarks/dates_probe.py runs/dates/export/saved_model --probe locales
    python benchmarks/dates_probe.py runs/dates/export/saved_model --probe human
    python benchmarks/dates_probe.py bench_out/results/dates/export/saved_model \
        bench_out/dates_2.1/export/saved_model --probe all --record

Prints the exact match over all strings, then per pattern, locale or form, then the first
misses. The models are loaded as SavedModels, without rnn_tf. `--record` (with `--probe
all`) writes benchmarks/records/dates_probe.json and its table into RESULTS.md between
the `dates_probe` markers.
"""

import argparse
import collections
import datetime
import json
import os
import random
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks import record  # noqa: E402

RECORD = os.path.join(ROOT, "benchmarks", "records", "dates_probe.json")

OTHER_LOCALES = ("en_CA", "en_NZ", "en_IE", "en_ZA", "en_SG", "fr_BE", "fr_CH", "de_AT",
                 "de_CH", "es_AR", "es_CO", "it_CH", "pt_AO", "nl_BE")
FORMATS = ("short", "medium", "long", "full", "d MMM y", "d MMMM y", "dd MMM y",
           "d MMM, y", "d MMMM, y", "dd, MMM y", "d MM y", "MMMM d y", "MMMM d, y",
           "dd.MM.y", "d MM yy", "dd.MM.yy")
# templates of pipelines.datasets.dates.write that the builder never writes
HELD_OUT = ("MMM. o, y", "MMM_ o y", "EEEE, MMMM o, y", "o 'of' MMMM y", "MMMM 'the' o, y",
            "'the' o 'of' MMM_ y", "y.MM.dd")
# the builder's templates behind the forms that failed before it wrote them, with an example
TRAINED = {"o MMMM y": "3rd march 1976", "MMMM o, y": "January  17th,  1972",
           "'the' o 'of' MMMM y": "the 19th of November 1983", "MMM. d y": "Jun. 13 2022",
           "dd.MM.y": "02.11.2028 (day and month both 12 or less)"}
HUMAN_LOCALES = ("en_US", "en_GB", "en_AU", "en_IN", "en_CA", "en_NZ", "en_IE")


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


def human_rows(n, seed):
    """[(form, text, iso)]: n dates (1900-2099) per form of HELD_OUT and TRAINED, each in
    a locale of HUMAN_LOCALES, case (as is, lower, title) and spacing (single, double)
    drawn at random; `dd.MM.y` only where day and month are both 12 or less."""
    from pipelines.datasets import dates
    rng = random.Random(seed)
    rows = []
    for form in HELD_OUT + tuple(TRAINED):
        for _ in range(n):
            first = datetime.date(1900, 1, 1).toordinal()
            date = datetime.date.fromordinal(rng.randint(first, first + 73000))
            if form == "dd.MM.y":
                date = datetime.date(date.year, rng.randint(1, 12), rng.randint(1, 12))
            locale = rng.choice(HUMAN_LOCALES)
            text = (dates.render(date, form, locale, "as_is") if form in TRAINED
                    else dates.write(date, form, locale))
            text = dates.dress(text, rng.choice(("as_is", "lower", "title")),
                               rng.choice(("single", "double")))
            rows.append((form, text, date.isoformat()))
    return rows


def score(serve, rows, groups):
    """{exact_match, strings, groups: {group: [right, total]}, misses: [...]} of the
    signature `serve` on `rows` [(group, text, iso)]."""
    import tensorflow as tf
    out = serve(sentences=tf.constant([t for _, t, _ in rows]))["output"].numpy()
    right, total, misses = collections.Counter(), collections.Counter(), []
    for (group, text, iso), o in zip(rows, out):
        total[group] += 1
        if o.decode() == iso:
            right[group] += 1
        elif len(misses) < 10:
            misses.append(f"{text!r} -> {o.decode()} (want {iso})")
    n = sum(total.values())
    return {"exact_match": round(sum(right.values()) / n, 4), "strings": n,
            "groups": {g: [right[g], total[g]] for g in groups}, "misses": misses}


def trained_on(saved_model):
    """{dataset, revision} of the run that exported `saved_model` (its workdir's ingest
    manifest), or {} when the export is not in a pipeline workdir."""
    path = os.path.join(saved_model, os.pardir, os.pardir, "ingest", "manifest.json")
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return {}
    version = os.path.basename(os.path.normpath(manifest.get("data_dir", "")))
    return {"dataset": f"{manifest['config']['dataset']} {version}",
            "revision": manifest.get("code_revision", "")}


PROBES = {"exercise": (lambda n, seed: probe_rows(n or 1500, seed), FORMATS),
          "locales": (lambda n, seed: locale_rows(n or 150, seed), OTHER_LOCALES),
          "human": (lambda n, seed: human_rows(n or 200, seed), HELD_OUT + tuple(TRAINED))}


def table(rec):
    """RESULTS.md's dates-probe section: exact match per written form of the human probe
    for each model, then each probe's overall figure."""
    models = rec["models"]
    head = " | ".join(f"{m['path']} ({m.get('dataset', '?')}, {m.get('revision', '?')})"
                      for m in models)
    lines = [f"| form | example | held out? | {head} |",
             "|---|---|---|" + "---|" * len(models)]
    example_day = datetime.date(1976, 3, 3)
    from pipelines.datasets import dates
    for form in HELD_OUT + tuple(TRAINED):
        example = TRAINED.get(form) or dates.write(example_day, form, "en_US")
        cells = " | ".join("{:.3f}".format(r / t) for r, t in
                           (m["probes"]["human"]["groups"][form] for m in models))
        lines.append(f"| `{form}` | {example} | {'no' if form in TRAINED else 'yes'} | "
                     f"{cells} |")
    for probe in PROBES:
        cells = " | ".join(f"{m['probes'][probe]['exact_match']:.3f}" for m in models)
        strings = models[0]["probes"][probe]["strings"]
        lines.append(f"| all of `--probe {probe}` | {strings:,} strings | "
                     f"{'yes' if probe != 'human' else 'both'} | {cells} |")
    lines += ["", record.provenance(rec)]
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("saved_model", nargs="+", help="one or more exported SavedModels")
    p.add_argument("--probe", default="exercise", choices=list(PROBES) + ["all"])
    p.add_argument("--n", type=int, default=None,
                   help="dates (exercise; default 1,500), dates per locale (locales; "
                        "default 150) or dates per form (human; default 200)")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--record", action="store_true",
                   help="write benchmarks/records/dates_probe.json and RESULTS.md's table "
                        "(needs --probe all)")
    args = p.parse_args()
    for path in args.saved_model:
        if not os.path.isdir(path):
            raise SystemExit(f"error: no SavedModel at {path!r}; pass the export "
                             "directory, e.g. runs/dates/export/saved_model")
    if args.record and args.probe != "all":
        raise SystemExit(f"error: --record needs --probe all, not --probe {args.probe}")
    rec = record.start()
    import tensorflow as tf
    probes = list(PROBES) if args.probe == "all" else [args.probe]
    rows = {name: PROBES[name][0](args.n, args.seed) for name in probes}
    models = []
    for path in args.saved_model:
        serve = tf.saved_model.load(path).signatures["serving_default"]
        model = dict(path=os.path.relpath(path, ROOT), **trained_on(path), probes={})
        for name in probes:
            result = score(serve, rows[name], PROBES[name][1])
            model["probes"][name] = result
            print(f"{model['path']} --probe {name}: exact match {result['exact_match']:.4f} "
                  f"of {result['strings']:,}")
            for group, (right, total) in result["groups"].items():
                print(f"  {group:22s} {right:5d}/{total}")
            if result["misses"]:
                print("  first misses:\n" + "\n".join("    " + m for m in result["misses"]))
        models.append(model)
    if args.record:
        rec = record.write(RECORD, dict(rec, seed=args.seed, n=args.n, models=models))
        record.write_section("dates_probe", table(rec))


if __name__ == "__main__":
    main()
