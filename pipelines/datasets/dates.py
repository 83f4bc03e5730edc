"""TFDS builder: human-readable dates -> ISO 8601 `YYYY-MM-DD`, generated from a seed.

Dates are drawn with `faker` (1600-01-01 .. 2199-12-31; one draw in ten lies within three
days of a New Year, where a week-based year would differ) and written with `babel` in a
locale's medium, long or full format or one of a few extra patterns, then kept as is,
upper-cased or lower-cased. Every pattern uses `y`, the calendar year: `Y`/`YYYY` is the
week-based year, wrong around New Year.

Splits are generated from different seeds; validation and test drop any input that also
occurs in train, so no test sentence was seen in training.
"""

import datetime
import random

import tensorflow_datasets as tfds

LOCALES = ("en_US", "en_GB", "en_AU", "en_IN", "fr_FR", "fr_CA", "de_DE", "es_ES", "es_MX",
           "it_IT", "pt_BR", "pt_PT", "nl_NL")
NAMED = ("medium", "long", "full")
EXTRA = ("d MMM y", "d MMMM y", "MMMM d, y", "MMM d y", "dd MMM y", "EEE d MMM y",
         "EEEE, d MMMM y", "d/MMM/y", "y-MM-dd", "dd.MM.y", "d MMMM, y", "d-MMM-y",
         "MMMM d y", "MMMM dd, y", "EEEE, MMMM d, y", "EEE, MMM d, y", "dd MMMM y",
         "d. MMMM y", "EEEE d MMMM y", "MMM dd, y", "y MMMM d", "d MMM, y")
CASES = ("as_is", "upper", "lower")
SIZES = {"train": 60000, "validation": 2000, "test": 2000}
SEEDS = {"train": 0, "validation": 1, "test": 2}
FIRST, LAST = datetime.date(1600, 1, 1), datetime.date(2199, 12, 31)


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
        out.append({"text": render(date, pattern, locale, case), "iso": date.isoformat(),
                    "pattern": pattern, "locale": locale, "case": case})
    return out


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

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "faker + babel, seeds 0/1/2; 13 locales."}
    BUILDER_CONFIGS = [
        DatesConfig(name="full", sizes=SIZES, description="60,000 / 2,000 / 2,000"),
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
