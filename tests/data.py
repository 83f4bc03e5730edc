"""The real data sets the tests read, from $RNN_TF_DATA_DIR (default ../shared/data
beside the checkout), and the rule for a data set that is absent: its tests are skipped
with a line naming the data set, the file and the variable to set, and `pytest -rs` (the
project's default options) prints those lines. CI sets RNN_TF_REQUIRE_DATA=1, which makes
an absent data set a failure instead, so CI runs every test.

A test says what it reads with `@pytest.mark.data("<data set>", ...)`; a test
parametrized by task takes `by_task(...)`, which marks each task's data set.
"""

import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("RNN_TF_DATA_DIR", os.path.join(ROOT, "..", "shared", "data"))

# data set -> the files its builder reads (README, "Data")
FILES = {
    "tiny_shakespeare": ["input.txt"],
    "sentiment_labelled_sentences": ["amazon_cells_labelled.txt", "imdb_labelled.txt"],
    "ud_english_ewt": ["en_ewt-ud-train.conllu.gz", "en_ewt-ud-dev.conllu"],
    "spa_eng": ["spa_eng_train.txt.gz"],
}
# task or config name -> the data set it reads (the others generate theirs or ship with
# Python and music21)
TASK_DATA = {"sentiment": "sentiment_labelled_sentences", "upos": "ud_english_ewt",
             "translation": "spa_eng", "char_lm_shakespeare": "tiny_shakespeare"}


def missing(name):
    """Why data set `name` cannot be read, or None when all its files are there."""
    folder = os.path.join(DATA, name)
    for file in FILES[name]:
        if not os.path.isfile(os.path.join(folder, file)):
            return (f"needs the data set {name}: {file} is not in {folder}; set "
                    "RNN_TF_DATA_DIR to the folder that holds it (README, 'Data')")
    return None


def require(*names):
    """Skips the running test (fails it under RNN_TF_REQUIRE_DATA=1) unless every data
    set in `names` is in place."""
    for name in names:
        if name not in FILES:
            raise ValueError(f"unknown data set {name!r}; known: {sorted(FILES)}")
        reason = missing(name)
        if reason:
            if os.environ.get("RNN_TF_REQUIRE_DATA") == "1":
                pytest.fail(reason + " (RNN_TF_REQUIRE_DATA=1: CI runs every test)")
            pytest.skip(reason)


def by_task(*names):
    """`names` as parametrize values, each marked with the data set its task reads."""
    return [pytest.param(n, marks=pytest.mark.data(TASK_DATA[n])) if n in TASK_DATA else n
            for n in names]
