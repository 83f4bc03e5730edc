"""TFDS builder: human-readable dates -> ISO 8601 `YYYY-MM-DD`, generated from a seed.

Dates are drawn with `faker` (1600-01-01 .. 2199-12-31; one draw in ten lies within three
days of a New Year, where a week-based year would differ) and written with `babel` in a
locale's short, medium, long or full format or one of the extra patterns, then kept as is,
upper-cased or lower-cased. Every pattern uses `y`, the calendar year: `Y`/`YYYY` is the
week-based year, wrong around New Year.

All-numeric dates follow one stated rule, so that no input has two readings:
- a two-digit year means 1969-1999 for 69-99 and 2000-2068 for 00-68 (POSIX, Python's
  `%y`); a date written with one is drawn from those years;
- numbers split by `/` with a two-digit year are month first, as en_US writes them
  (`3/7/16` is 2016-03-07), unless the first number is above 12: a day-first locale's
  `d/M/yy` or `dd/MM/yy` is only drawn for days 13-31 (`16/12/16` is 2016-12-16);
- every other all-numeric form is day first (`07/03/2016`, `07.03.16`, `7 03 2016`)
  or year first (`2016-03-07`). There is no month-first form with a four-digit year.

Splits are generated from different seeds; validation and test drop any input that also
occurs in train, so no test sentence was seen in training.
"""

import datetime
import random
import re

import tensorflow_datasets as tfds

LOCALES = ("en_US", "en_GB", "en_AU", "en_IN", "fr_FR", "fr_CA", "de_DE", "es_ES", "es_MX",
           "it_IT", "pt_BR", "pt_PT", "nl_NL")
NAMED = ("short", "medium", "long", "full")
EXTRA = ("d MMM y", "d MMMM y", "MMMM d, y", "MMM d y", "dd MMM y", "EEE d MMM y",
         "EEEE, d MMMM y", "d/MMM/y", "y-MM-dd", "dd.MM.y", "d MMMM, y", "d-MMM-y",
         "MMMM d y", "MMMM dd, y", "EEEE, MMMM d, y", "EEE, MMM d, y", "dd MMMM y",
         "d. MMMM y", "EEEE d MMMM y", "MMM dd, y", "y MMMM d", "d MMM, y",
         # all-numeric (the rule in the module docstring)
         "d MM y", "dd MM y", "d MM yy", "dd.MM.yy", "dd/MM/y", "dd-MM-y", "d.M.y",
         "y/MM/dd", "M/d/yy", "d/M/yy", "d/M/y")
CASES = ("as_is", "upper", "lower")
SIZES = {"train": 60000, "validation": 2000, "test": 10000}
SEEDS = {"train": 0, "validation": 1, "test": 2}
FIRST, LAST = datetime.date(1600, 1, 1), datetime.date(2199, 12, 31)
TWO_DIGIT_YEARS = (1969, 2068)     # what `yy` can mean: 69-99 -> 19xx, 00-68 -> 20xx


def generate(n, seed):
    """n examples as dicts {text, iso, pattern, locale, case}, reproducible from `seed`."""
    from babel.dates import format_date
    from faker import Faker
    fake = Faker()
    fake.seed_instance(seed)
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if rng.random() < 0.1:       # around New Year: where y and Y disagree
            year = rng.randint(FIRST.year + 1, LAST.year)
            date = datetime.date(year, 1, 1) + datetime.timedelta(days=rng.randint(-3, 2))
        else:
            date = fake.date_between(start_date=FIRST, end_date=LAST)
        locale = rng.choice(LOCALES)
        pattern = rng.choice(NAMED + EXTRA)
        case = rng.choice(CASES)
        date = fit_rule(date, resolve(pattern, locale), rng)
        out.append({"text": render(date, pattern, locale, case), "iso": date.isoformat(),
                    "pattern": pattern, "locale": locale, "case": case})
    return out


def resolve(pattern, locale):
    """The babel pattern `pattern` stands for in `locale` (named formats differ by locale)."""
    from babel.dates import get_date_format
    return get_date_format(pattern, locale).pattern if pattern in NAMED else pattern


def two_digit_year(pattern):
    """Whether the resolved `pattern` writes the year with two digits (`yy`)."""
    return re.search(r"(?<!y)yy(?!y)", pattern) is not None


def day_first_slash_two_digit(pattern):
    """Whether `pattern` is all-numeric, split by '/', day first, with a two-digit year:
    the form en_US would read month first, so it is only drawn for days above 12."""
    numeric = "M" in pattern and "MMM" not in pattern and "E" not in pattern
    return (numeric and "/" in pattern and two_digit_year(pattern)
            and pattern.index("d") < pattern.index("M"))


def fit_rule(date, pattern, rng):
    """`date`, redrawn where the resolved `pattern` needs it to keep one reading (the
    module docstring's rule): a year in TWO_DIGIT_YEARS for `yy`, a day above 12 for a
    day-first `/` form with `yy`."""
    if two_digit_year(pattern):
        date = _with(date, year=rng.randint(*TWO_DIGIT_YEARS))
    if day_first_slash_two_digit(pattern) and date.day <= 12:
        date = _with(date, day=rng.randint(13, 28))
    return date


def _with(date, **change):
    """`date` with its year or day changed; 29 February becomes the 28th in a common year."""
    try:
        return date.replace(**change)
    except ValueError:
        return date.replace(day=28, **{k: v for k, v in change.items() if k != "day"})


def render(date, pattern, locale, case):
    """The date written in `pattern` (a babel pattern or medium/long/full) and case."""
    from babel.dates import format_date
    text = format_date(date, format=pattern, locale=locale)
    return text.upper() if case == "upper" else text.lower() if case == "lower" else text


class DatesConfig(tfds.core.BuilderConfig):
    def __init__(self, *, sizes, **kwargs):
        super().__init__(**kwargs)
        self.sizes = sizes


class Dates(tfds.core.GeneratorBasedBuilder):
    """Human-readable dates in 13 locales and ISO 8601 labels."""

    VERSION = tfds.core.Version("2.1.0")
    RELEASE_NOTES = {"1.0.0": "faker + babel, seeds 0/1/2; 13 locales.",
                     "2.0.0": "Short formats and all-numeric patterns under one stated rule "
                              "(two-digit years, month-first only for en_US's M/d/yy); "
                              "test split 10,000.",
                     "2.1.0": "Also d/M/y (day first, as es_CO's medium format writes it)."}
    BUILDER_CONFIGS = [
        DatesConfig(name="full", sizes=SIZES, description="60,000 / 2,000 / 10,000"),
        DatesConfig(name="small", sizes={"train": 1000, "validation": 200, "test": 200},
                    description="1,000 / 200 / 200, for smoke runs and tests"),
    ]

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "source": tfds.features.Text(), "target": tfds.features.Text(),
                "pattern": tfds.features.Text(), "locale": tfds.features.Text()}),
            supervised_keys=("source", "target"),
            description="Dates written by babel in many locales and formats -> ISO 8601.")

    def _split_generators(self, dl_manager):
        del dl_manager
        sizes = self.builder_config.sizes
        train = generate(sizes["train"], SEEDS["train"])
        seen = {e["text"] for e in train}
        splits = {"train": train}
        for split in ("validation", "test"):
            splits[split] = [e for e in generate(sizes[split], SEEDS[split])
                             if e["text"] not in seen]
        return {s: self._generate_examples(rows) for s, rows in splits.items()}

    def _generate_examples(self, rows):
        for i, e in enumerate(rows):
            yield i, {"source": e["text"], "target": e["iso"], "pattern": e["pattern"],
                      "locale": e["locale"]}
