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

Three in ten dates (one in two in an English locale) are written the way people write
them rather than the way babel formats them, by the templates of HUMAN, each with its rule:
- ordinal days, English locales: `MMMM o, y` "March 3rd, 1976", `o MMMM y` "3rd March
  1976", `'the' o 'of' MMMM y` "the 3rd of March 1976" and their comma variants. The
  suffix is st/nd/rd for days ending in 1/2/3 except 11-13, th otherwise;
- French's first of the month, `O MMMM y`: "1er mars 1976", other days as numbers;
- abbreviated months, the locale's CLDR abbreviation with its period (`MMM.`: "Jun.",
  "janv.") or without one (`MMM_`: "Jun", "janv"), before or after the day;
- day-first dotted numerics (`d.MM.y`, `d. M. y`, ...): a dotted numeric date is always
  day first, as the locales that write dots (de, da, nb, fi, pl, cs, ro, ...) read it.
Every date, babel's or a template's, is then cased (as is, upper, lower or title) and
spaced (SPACINGS: single, every space doubled, padded at both ends, or no space after a
comma). None of this changes which date a text means, so the ISO label keeps one reading.

Splits are generated from different seeds; validation and test drop any input that also
occurs in train, so no test sentence was seen in training.
"""

import datetime
import random
import re

import tensorflow_datasets as tfds

ENGLISH = ("en_US", "en_GB", "en_AU", "en_IN")
FRENCH = ("fr_FR", "fr_CA")
LOCALES = ENGLISH + FRENCH + ("de_DE", "es_ES", "es_MX", "it_IT", "pt_BR", "pt_PT", "nl_NL",
                              "sv_SE", "da_DK", "nb_NO", "fi_FI", "pl_PL", "cs_CZ", "ro_RO")
NAMED = ("short", "medium", "long", "full")
EXTRA = ("d MMM y", "d MMMM y", "MMMM d, y", "MMM d y", "dd MMM y", "EEE d MMM y",
         "EEEE, d MMMM y", "d/MMM/y", "y-MM-dd", "dd.MM.y", "d MMMM, y", "d-MMM-y",
         "MMMM d y", "MMMM dd, y", "EEEE, MMMM d, y", "EEE, MMM d, y", "dd MMMM y",
         "d. MMMM y", "EEEE d MMMM y", "MMM dd, y", "y MMMM d", "d MMM, y",
         # all-numeric (the rule in the module docstring)
         "d MM y", "dd MM y", "d MM yy", "dd.MM.yy", "dd/MM/y", "dd-MM-y", "d.M.y",
         "y/MM/dd", "M/d/yy", "d/M/yy", "d/M/y")
# template -> the locales it is written in (None: every locale); the module docstring's rules
HUMAN = {
    "MMMM o, y": ENGLISH, "MMMM o y": ENGLISH, "o MMMM y": ENGLISH, "o MMMM, y": ENGLISH,
    "'the' o 'of' MMMM y": ENGLISH, "'the' o 'of' MMMM, y": ENGLISH,
    "O MMMM y": FRENCH,
    "MMM. d y": None, "MMM. d, y": None, "MMM_ d, y": None, "MMM_ d y": None,
    "d MMM. y": None, "d MMM_ y": None, "dd MMM_ y": None,
    "d.MM.y": None, "dd.M.y": None, "d. M. y": None, "dd. MM. y": None,
}
HUMAN_SHARE = {"en": 0.5, "other": 0.3}   # the share of dates written by HUMAN's templates
CASES = ("as_is", "upper", "lower", "title")
SPACINGS = ("single", "double", "padded", "tight")
SPACING_WEIGHTS = (0.7, 0.1, 0.1, 0.1)
SIZES = {"train": 60000, "validation": 2000, "test": 10000}
SEEDS = {"train": 0, "validation": 1, "test": 2}
FIRST, LAST = datetime.date(1600, 1, 1), datetime.date(2199, 12, 31)
TWO_DIGIT_YEARS = (1969, 2068)     # what `yy` can mean: 69-99 -> 19xx, 00-68 -> 20xx


def generate(n, seed):
    """n examples as dicts {text, iso, pattern, locale, case, spacing}, reproducible from
    `seed`."""
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
        human = [t for t, where in HUMAN.items() if where is None or locale in where]
        share = HUMAN_SHARE["en" if locale in ENGLISH else "other"]
        pattern = rng.choice(human if rng.random() < share else NAMED + EXTRA)
        case = rng.choice(CASES)
        spacing = rng.choices(SPACINGS, SPACING_WEIGHTS)[0]
        date = fit_rule(date, resolve(pattern, locale), rng)
        out.append({"text": render(date, pattern, locale, case, spacing),
                    "iso": date.isoformat(), "pattern": pattern, "locale": locale,
                    "case": case, "spacing": spacing})
    return out


def resolve(pattern, locale):
    """The babel pattern `pattern` stands for in `locale` (named formats differ by locale);
    a template of HUMAN stands for itself."""
    from babel.dates import get_date_format
    return get_date_format(pattern, locale).pattern if pattern in NAMED else pattern


def ordinal(day):
    """English ordinal of `day`: 1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, ..., 21st."""
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


_TOKEN = re.compile(r"'[^']*'|EEEE|MMMM|MMM[._]|MM|M|dd|d|o|O|yy|y")


def write(date, template, locale):
    """`date` written by `template` in `locale`. Tokens: EEEE weekday, MMMM month name,
    MMM. / MMM_ the locale's abbreviated month with / without a period, MM / M month
    number, dd / d day, o English ordinal day, O French day ("1er" on the first), y / yy
    year; 'quoted' text and anything else is literal."""
    from babel.dates import get_day_names, get_month_names

    def token(m):
        t = m.group(0)
        if t.startswith("'"):
            return t[1:-1]
        if t in ("MMM.", "MMM_"):
            short = get_month_names("abbreviated", locale=locale)[date.month].rstrip(".")
            return short + ("." if t == "MMM." else "")
        return {"EEEE": lambda: get_day_names("wide", locale=locale)[date.weekday()],
                "MMMM": lambda: get_month_names("wide", locale=locale)[date.month],
                "MM": lambda: f"{date.month:02d}", "M": lambda: str(date.month),
                "dd": lambda: f"{date.day:02d}", "d": lambda: str(date.day),
                "o": lambda: ordinal(date.day),
                "O": lambda: "1er" if date.day == 1 else str(date.day),
                "yy": lambda: f"{date.year % 100:02d}", "y": lambda: str(date.year)}[t]()
    return _TOKEN.sub(token, template)


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


def render(date, pattern, locale, case, spacing="single"):
    """The date written in `pattern` (a babel pattern, short/medium/long/full or a template
    of HUMAN), then cased (CASES) and spaced (SPACINGS)."""
    from babel.dates import format_date
    text = (write(date, pattern, locale) if pattern in HUMAN
            else format_date(date, format=pattern, locale=locale))
    return dress(text, case, spacing)


def dress(text, case, spacing="single"):
    """`text` in `case` (CASES) and `spacing` (SPACINGS)."""
    if case == "title":
        text = " ".join(w[:1].upper() + w[1:].lower() for w in text.split(" "))
    elif case in ("upper", "lower"):
        text = text.upper() if case == "upper" else text.lower()
    if spacing == "double":
        text = text.replace(" ", "  ")
    elif spacing == "padded":
        text = f" {text} "
    elif spacing == "tight":
        text = text.replace(", ", ",")
    return text


class DatesConfig(tfds.core.BuilderConfig):
    def __init__(self, *, sizes, **kwargs):
        super().__init__(**kwargs)
        self.sizes = sizes


class Dates(tfds.core.GeneratorBasedBuilder):
    """Human-readable dates in 20 locales and ISO 8601 labels."""

    VERSION = tfds.core.Version("3.0.0")
    RELEASE_NOTES = {"1.0.0": "faker + babel, seeds 0/1/2; 13 locales.",
                     "2.0.0": "Short formats and all-numeric patterns under one stated rule "
                              "(two-digit years, month-first only for en_US's M/d/yy); "
                              "test split 10,000.",
                     "2.1.0": "Also d/M/y (day first, as es_CO's medium format writes it).",
                     "3.0.0": "Dates as people write them (HUMAN's templates: ordinal days, "
                              "abbreviated months with and without a period, day-first "
                              "dotted numerics), title case, irregular spacing; seven more "
                              "European locales (sv, da, nb, fi, pl, cs, ro)."}
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
