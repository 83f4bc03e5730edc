"""The supervised tasks: each tiny config end to end (a few dozen steps on a slice), each
export answering in a fresh process without our code, deterministic disjoint splits,
the date generator's labels, and the piano-roll round trip."""

import datetime
import importlib
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from pipelines import common, export
from pipelines.tasks import base
from pipelines.train import STAGES, run_pipeline
from pipelines import tasks
from tests.data import DATA, by_task
from tests.events import image_logged, logged, text_logged


# config module, the serving inputs, and the signature's input name
TASKS = {
    "sentiment": ("sentiment", ["I love this phone, works great.",
                                "Terrible acting and a boring plot.", ""], "sentences"),
    "upos": ("upos", ["The zorblax ran quickly to Paris .", "Hi"], "sentences"),
    "dates": ("dates", ["3 January 2023", "LUNDI 1 JANVIER 1900", "  "], "sentences"),
    "translation": ("translation", ["Me gusta el té.", "¿Dónde está Tom?", ""], "sentences"),
}

FRESH = r"""
import json, sys
import tensorflow as tf
m = tf.saved_model.load(sys.argv[1])
fn = m.signatures["serving_default"]
outs = [fn(**{sys.argv[2]: tf.constant(batch, tf.string)})
        for batch in json.loads(sys.argv[3])]
assert not any(k.startswith(("rnn_tf", "pipelines")) for k in sys.modules), "imported us"
print(json.dumps([{k: [x.decode("utf-8") for x in v.numpy()] if v.dtype == tf.string
                    else v.numpy().tolist() for k, v in out.items()} for out in outs]))
"""

# batches with no token at all, which the graph must also answer: none, only empty strings
EDGE_BATCHES = [[], ["", "   "]]


def _config(module, **overrides):
    config = importlib.import_module(f"configs.{module}").get_config("tiny")
    for path, value in overrides.items():
        section, key = path.split(".")
        config[section][key] = value
    return config


def _fresh_process(saved_model, input_name, batches, tmp_path):
    """The serving signature's answers to each batch of strings, in a fresh process."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", FRESH, saved_model, input_name,
                           json.dumps(batches)], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", by_task(*sorted(TASKS)))
def test_tiny_task_end_to_end_and_fresh_process_export(name, tmp_path):
    module, inputs, input_name = TASKS[name]
    config = _config(module, **{"train.bptt_view_rows": 8})   # tiny turns the view off
    workdir = str(tmp_path / "run")
    start = time.time()
    results = run_pipeline(config, workdir, list(STAGES), log=lambda *a: None)
    seconds = time.time() - start
    # tiny is what the run did (its steps); the time bound only catches a hang, as this
    # machine's speed varies up to 4x from day to day (speed is the benchmarks' job)
    assert common.read_manifest(workdir, "train")["metrics"]["steps"] <= config.train.steps
    assert config.data.max_examples_per_split <= 64 and config.train.steps <= 100, name
    assert seconds < 240, f"{name} tiny run took {seconds:.0f} s"
    for stage in ("ingest", "transform", "train", "evaluate", "export"):
        assert common.read_manifest(workdir, stage)["stage"] == stage
    metrics = common.read_json(os.path.join(workdir, "evaluate", "metrics.json"))
    task = tasks.get(config)
    assert np.isfinite(metrics["validation"][task.primary])
    assert np.isfinite(metrics["test"][task.primary])
    # the BPTT view of the recurrent layer at each validation (rnn_tf.diagnostics)
    views = ("/encoder", "/decoder") if name in ("dates", "translation") else ("",)
    for view in views:
        reach = logged(workdir, "gradient_reach_steps" + view)
        assert reach and all(0 <= r <= 1000 for _, r in reach), (view, reach)
    # validation logs the training loss's name; the samples: predictions or mistakes
    assert logged(workdir, "loss", "validation")
    samples = text_logged(workdir, "misclassified" if name == "sentiment" else "predictions")
    assert samples and samples[-1].startswith("    "), samples
    # the same answers in a process that never imports our code ...
    fresh, *edge = _fresh_process(export.export_dir(workdir), input_name,
                                  [inputs] + EDGE_BATCHES, str(tmp_path))
    # ... as the serving function built in this process from the best weights
    model = base.load_best(task, workdir)
    module = task.serving_module(model)
    here = module.serve(tf.constant(inputs))
    for key, value in here.items():
        value = value.numpy()
        if value.dtype == object:
            assert [v.decode() for v in value] == fresh[key], key
        else:
            np.testing.assert_allclose(value, fresh[key], rtol=1e-4, atol=1e-5)
    assert len(fresh[next(iter(fresh))]) == len(inputs)
    if name == "sentiment":
        p = np.array(fresh["probability"])
        assert ((p >= 0) & (p <= 1)).all() and set(fresh["label"]) <= {"positive",
                                                                        "negative"}
    if name in ("dates", "translation"):    # no tokens in, nothing out
        assert fresh["output"][-1] == ""
    if name == "translation":                # the replace_unk off/on script on this run
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        script = os.path.join(root, "benchmarks", "translation_unk.py")
        proc = subprocess.run([sys.executable, script, f"--workdir={workdir}"],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        assert [(r["split"], r["replace_unk"]) for r in rows] == [
            ("validation", False), ("test", False), ("validation", True), ("test", True)]
        assert all(r["outputs_with_unk"] == 0 for r in rows if r["replace_unk"])
        assert metrics["validation"]["chrf"] == pytest.approx(rows[2]["chrf"], abs=1e-3)
        proc = subprocess.run([sys.executable, script, f"--workdir={tmp_path / 'none'}"],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        assert "holds no pipeline run" in proc.stderr
    if name == "upos":                       # one tag per whitespace token
        for sentence, tags in zip(inputs, fresh["tags"]):
            assert len(tags.split()) == len(sentence.split())
            assert set(tags.split()) <= set(config.data.tag_names)
    for batch, out in zip(EDGE_BATCHES, edge):
        assert {len(v) for v in out.values()} == {len(batch)}, (batch, out)
        for key in ("output", "tags"):       # no tokens in, nothing out
            assert out.get(key, [""] * len(batch)) == [""] * len(batch), (batch, out)
    assert results["push"]
    # TF1-style loaders (saved_model_cli run, TF Serving) find the variables and tables
    # (saved_model_cli through its module: every TensorFlow install has it)
    out = subprocess.run([sys.executable, "-m", "tensorflow.python.tools.saved_model_cli",
                          "run", "--dir", export.export_dir(workdir), "--tag_set", "serve",
                          "--signature_def", "serving_default", "--input_exprs",
                          f"{input_name}={inputs[:1]!r}"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Result for output key" in out.stdout, out.stdout[-2000:]


def test_music_tiny_end_to_end_writes_midi_and_answers_in_fresh_process(tmp_path):
    config = _config("bach", **{"train.bptt_view_rows": 8})
    workdir = str(tmp_path / "run")
    start = time.time()
    run_pipeline(config, workdir, list(STAGES), log=lambda *a: None)
    assert time.time() - start < 240                         # a hang guard, not a speed test
    assert logged(workdir, "gradient_reach_steps")          # the BPTT view is logged
    assert image_logged(workdir, "piano_roll")              # a generated roll
    midi = os.path.join(workdir, "export", "sample.mid")
    assert os.path.getsize(midi) > 0
    from music21 import converter
    assert converter.parse(midi).flatten().notes
    script = r"""
import json, sys
import tensorflow as tf
m = tf.saved_model.load(sys.argv[1])
g = m.signatures["generate"](length=tf.constant(16), temperature=tf.constant(1.0),
                             seed=tf.constant(4))
roll = tf.zeros([1, 8, 128]).numpy(); roll[0, :, 60] = 1
s = m.signatures["score"](rolls=tf.constant(roll))
edge = [m.signatures["score"](rolls=tf.zeros(shape))["nats_per_step"].numpy().tolist()
        for shape in ([0, 8, 128], [2, 0, 128])]            # no chorales; chorales of 0 steps
g0 = m.signatures["generate"](length=tf.constant(0), temperature=tf.constant(1.0),
                              seed=tf.constant(4))["roll"].numpy()
assert not any(k.startswith(("rnn_tf", "pipelines")) for k in sys.modules)
print(json.dumps({"roll": g["roll"].numpy().tolist(), "nats": s["nats_per_step"].numpy().tolist(),
                  "edge": edge, "g0": list(g0.shape)}))
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", script, export.export_dir(workdir)],
                          capture_output=True, text=True, cwd=str(tmp_path), env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    roll = np.array(out["roll"])
    assert roll.shape[0] == 16 and set(np.unique(roll)) <= {0.0, 1.0}
    assert out["nats"][0] > 0
    assert out["edge"] == [[], [0.0, 0.0]] and out["g0"] == [0, roll.shape[1]]


def test_pad_to_gives_static_batches_and_buckets_off_pads_to_the_batch():
    config = _config("bach", **{"train.buckets": (), "train.pad_to": 12})
    task = tasks.get(config)
    task.meta = {"lowest_pitch": 0, "highest_pitch": 2}
    rolls = [np.ones((n, 3), np.float32) for n in (3, 5, 7)]
    lengths = np.array([3, 5, 7], np.int32)
    features = {"roll": tf.RaggedTensor.from_row_lengths(np.concatenate(rolls), lengths),
                "length": lengths}
    padded = next(iter(task.dataset(features, 3, shuffle=True, repeat=True)))
    assert padded["roll"].shape == (3, 12, 3)
    assert float(tf.reduce_sum(padded["roll"])) == 15 * 3     # zeros after each length
    config.train.pad_to = 0
    natural = next(iter(task.dataset(features, 3, shuffle=True, repeat=True)))
    assert natural["roll"].shape == (3, 7, 3)


# ------------------------------------------------------------------ builders
@pytest.mark.data("sentiment_labelled_sentences")
def test_sentiment_splits_disjoint_deterministic_80_10_10():
    from pipelines.datasets.sentiment_labelled_sentences import read_lines, split_indices
    rows = read_lines(os.path.join(DATA, "sentiment_labelled_sentences"))
    assert len(rows) == 2000
    a, b = split_indices(len(rows)), split_indices(len(rows))
    assert all((a[s] == b[s]).all() for s in a)
    sets = {s: set(v.tolist()) for s, v in a.items()}
    assert [len(sets[s]) for s in ("train", "validation", "test")] == [1600, 200, 200]
    assert not (sets["train"] & sets["test"]) and not (sets["train"] & sets["validation"])
    assert not (sets["validation"] & sets["test"])


@pytest.mark.data("sentiment_labelled_sentences")
def test_sentiment_one_source_configs(tmp_path):
    """`sentiment_labelled_sentences/amazon` and `/imdb` hold one file each, 800/100/100;
    the default config is both files, unchanged."""
    import tensorflow_datasets as tfds
    from pipelines.datasets import sentiment_labelled_sentences  # noqa: F401
    manual = os.path.join(DATA, "sentiment_labelled_sentences")
    seen = {}
    for name in ("amazon", "imdb"):
        builder = tfds.builder(f"sentiment_labelled_sentences/{name}",
                               data_dir=str(tmp_path))
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=manual))
        splits = {s: [(e["sentence"].decode(), e["source"].decode())
                      for e in tfds.as_numpy(builder.as_dataset(split=s))]
                  for s in ("train", "validation", "test")}
        assert [len(v) for v in splits.values()] == [800, 100, 100]
        assert {src for v in splits.values() for _, src in v} == {name}
        seen[name] = {t for v in splits.values() for t, _ in v}
    from pipelines.datasets.sentiment_labelled_sentences import read_lines
    files = {n: {t for _, t, _ in read_lines(manual, (n,))} for n in ("amazon", "imdb")}
    assert seen == files                       # every sentence of the file, nothing else
    assert seen["amazon"] & seen["imdb"] == {"Very disappointing."}   # in both files
    assert tfds.builder("sentiment_labelled_sentences",
                        data_dir=str(tmp_path)).builder_config.name == "all"


@pytest.mark.data("sentiment_labelled_sentences")
def test_sentiment_cross_domain_script_runs_both_directions(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(
        [sys.executable, os.path.join(root, "benchmarks", "sentiment_cross_domain.py"),
         "--config=configs/sentiment.py:tiny", f"--workdir={tmp_path}",
         "--set", "train.steps=5"], capture_output=True, text=True, timeout=300,
        env={**os.environ, "RNN_TF_DATA_DIR": DATA})
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(out["results"]) == {"amazon->imdb", "imdb->amazon"}
    assert set(out["mean"]) == {"in_domain_test", "other_domain"}
    for r in out["results"].values():
        assert 0.0 <= r["other_domain"] <= 1.0 and 0.0 <= r["in_domain_test"] <= 1.0
    assert os.path.isdir(tmp_path / "amazon" / "export" / "saved_model")


@pytest.mark.data("sentiment_labelled_sentences")
def test_cross_domain_proxy_leaves_out_the_tables_validation_and_test_sentences():
    from benchmarks.sentiment_cross_domain import proxy_rows
    from pipelines.datasets.sentiment_labelled_sentences import read_lines, split_indices
    manual = os.path.join(DATA, "sentiment_labelled_sentences")
    every = read_lines(manual)
    split = split_indices(len(every))
    evaluation = {every[i][1] for s in ("validation", "test") for i in split[s]}
    train = {every[i][1] for i in split["train"]}
    for source in ("amazon", "imdb"):
        rows = proxy_rows(manual, source)
        assert rows and all(r[0] == source for r in rows)
        assert not {r[1] for r in rows} & evaluation
        # every other sentence of the source is kept
        assert {r[1] for r in read_lines(manual, (source,))} - evaluation == \
            {r[1] for r in rows}
        assert {r[1] for r in rows} <= train


@pytest.mark.data("ud_english_ewt")
def test_ud_splits_disjoint_deterministic():
    from pipelines.datasets.ud_english_ewt import is_validation, read_conllu
    train = list(read_conllu(os.path.join(DATA, "ud_english_ewt",
                                          "en_ewt-ud-train.conllu.gz")))
    assert len(train) == 12544
    val = [s for s, _, _ in train if is_validation(s)]
    assert 400 < len(val) < 900 and val == [s for s, _, _ in train if is_validation(s)]
    dev = list(read_conllu(os.path.join(DATA, "ud_english_ewt", "en_ewt-ud-dev.conllu")))
    assert len(dev) == 2001 and sum(len(f) for _, f, _ in dev) == 25147
    assert not {s for s, _, _ in dev} & {s for s, _, _ in train}


@pytest.mark.data("spa_eng")
def test_spa_eng_splits_by_english_sentence():
    from pipelines.datasets.spa_eng import split_of
    import gzip
    with gzip.open(os.path.join(DATA, "spa_eng", "spa_eng_train.txt.gz"), "rt",
                   encoding="utf-8") as f:
        pairs = [l.split("\t")[:2] for l in f.read().split("\n") if l.strip()]
    by_english = {}
    for english, _ in pairs:
        by_english.setdefault(english, set()).add(split_of(english))
    assert all(len(s) == 1 for s in by_english.values())   # one English, one split
    counts = {s: sum(split_of(e) == s for e, _ in pairs) for s in ("validation", "test")}
    assert all(0.04 < c / len(pairs) < 0.06 for c in counts.values()), counts


@pytest.mark.data("spa_eng")
def test_detokenize_undoes_word_tokens_on_the_english_of_spa_eng_train():
    """The translation export joins English word tokens back into text: all but 11 of
    the 100,923 English sentences of spa_eng's train split survive tokenizing and joining
    unchanged (the rest: ' ° ', single-quoted words, 'C++', 'U.S.S.R.', 'D. C.'). The
    rules are checked on the train split only: its validation and test references score
    the model (docs/testing.md)."""
    from pipelines import text
    from pipelines.datasets.spa_eng import split_of
    import gzip
    with gzip.open(os.path.join(DATA, "spa_eng", "spa_eng_train.txt.gz"), "rt",
                   encoding="utf-8") as f:
        english = [e for e in (l.split("\t")[0] for l in f.read().split("\n") if l.strip())
                   if split_of(e) == "train"]
    joined = text.detokenize(text.word_tokens(english, lower=False)).numpy()
    changed = [e for e, j in zip(english, joined) if j.decode("utf-8") != e]
    assert len(english) == 100923 and len(changed) <= 11, changed[:20]


def test_bach_split_by_chorale_is_deterministic():
    from pipelines.datasets.bach_chorales import split_of
    names = [f"bach/bwv{i}" for i in range(300)]
    first = [split_of(n) for n in names]
    assert first == [split_of(n) for n in names]
    assert {"train", "validation", "test"} == set(first)


def test_monitor_loss_keeps_the_weights_of_the_lowest_validation_loss(tmp_path):
    """train.monitor='loss' (the dates config): the saved best weights are those of the
    evaluation with the lowest validation loss, logged beside the exact match."""
    config = _config("dates", **{"train.monitor": "loss", "train.steps": 40,
                                 "train.eval_every": 10, "train.learning_rate": 1e-2,
                                 "train.early_stopping_patience": 0})
    workdir = str(tmp_path / "run")
    run_pipeline(config, workdir, ["ingest", "transform", "train"], log=lambda *a: None)
    losses = logged(workdir, "loss", "validation")
    assert [s for s, _ in losses] == [10, 20, 30, 40]
    assert len(logged(workdir, "exact_match", "validation")) == 4
    best = common.read_manifest(workdir, "train")["metrics"]["best_val_loss"]
    assert np.isclose(best, min(v for _, v in losses), rtol=1e-6)
    task = tasks.get(config)
    task.meta = base.load_meta(task, workdir)
    model = base.load_best(task, workdir)
    again = task.validation_loss(model, base.load_features(workdir, "validation"))
    assert np.isclose(again, best, rtol=1e-5), (again, best)


def test_an_unknown_monitor_is_a_user_error():
    config = _config("dates", **{"train.monitor": "val_acc"})
    with pytest.raises(common.UserError, match=r"train.monitor='val_acc'.*'loss'"):
        base.monitor(tasks.get(config), config.train.monitor)


def test_vader_valence_matches_the_lexicon_file():
    """The in-graph lookup against the package's file read here by hand."""
    import importlib_resources
    from pipelines.lexicon import Valence, vader_ratings
    path = importlib_resources.files("vaderSentiment") / "vader_lexicon.txt"
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").split("\n")]
    by_hand = {r[0]: float(r[1]) for r in rows if len(r) > 1 and " " not in r[0]}
    ratings = vader_ratings()
    assert ratings == by_hand and len(ratings) > 7000
    assert ratings["delicious"] > 2 and ratings["rude"] < -1
    words = ["delicious", "rude", "zorblax", ":)", "the"]
    got = Valence(ratings)(tf.ragged.constant([words[:3], words[3:]])).to_list()
    want = [by_hand.get(w, 0.0) / 4 for w in words]
    np.testing.assert_allclose(got[0] + got[1], want, rtol=1e-6)


def test_vader_negation_rule_flips_the_three_words_after_a_negator():
    """VADER's rule, written out here: a rating within three words after a negator (or the
    't' of a split n't) is multiplied by -0.74; nothing else changes."""
    from pipelines import text
    from pipelines.lexicon import Valence, vader_negators, vader_ratings
    r = vader_ratings()
    negators = vader_negators()
    assert {"not", "never", "without", "isn't"} <= set(negators)
    sentences = ["The crust isn't good , not at all good . I like it", "good not bad",
                 "not", "never a good idea or a bad one", ""]
    words = text.word_tokens(tf.constant(sentences), lower=True)
    got = Valence(r, negators)(words).to_list()
    plain = Valence(r)(words).to_list()
    for ws, g, p in zip(words.to_list(), got, plain):
        ws = [w.decode() for w in ws]
        is_negator = [w in negators or (w == "t" and t > 0 and ws[t - 1] == "'")
                      for t, w in enumerate(ws)]
        want = [r.get(w, 0.0) / 4 * (-0.74 if any(is_negator[max(0, t - 3):t]) else 1.0)
                for t, w in enumerate(ws)]
        np.testing.assert_allclose(g, want, rtol=1e-6)
        np.testing.assert_allclose(p, [r.get(w, 0.0) / 4 for w in ws], rtol=1e-6)
    assert got[0][5] < 0 < plain[0][5]                 # "isn ' t good": good is negated
    assert got[1][0] > 0 and got[1][2] > 0             # "good not bad": bad reads positive
    assert got[3][2] < 0 and got[3][6] == plain[3][6]  # "bad" is 6 words on: unchanged


def test_sentiment_lexicon_is_a_feature_and_an_unknown_one_is_a_user_error():
    config = _config("sentiment")
    task = tasks.get(config)
    task.meta = {"vocab": ["[PAD]", "[UNK]", "good"], "labels": ["negative", "positive"]}
    feats = task.encode([{"sentence": "Good, delicious!", "label": 1},
                         {"sentence": "", "label": 0}], fit=False)
    assert feats["ids"].to_list() == [[2, 1, 1, 1], [1]]
    from pipelines.lexicon import vader_ratings
    r = vader_ratings()
    np.testing.assert_allclose(feats["valence"].to_list()[0],
                               [r["good"] / 4, 0.0, r["delicious"] / 4, 0.0], rtol=1e-6)
    assert feats["valence"].to_list()[1] == [0.0]
    config.model.lexicon = "afinn"
    with pytest.raises(ValueError, match=r"model.lexicon='afinn'.*'vader'.*'vader_negation'"):
        tasks.get(config).valence
    config.model.lexicon = "vader_negation"
    negated = tasks.get(config)
    negated.meta = task.meta
    feats = negated.encode([{"sentence": "not good", "label": 0}], fit=False)
    np.testing.assert_allclose(feats["valence"].to_list()[0], [0.0, -0.74 * r["good"] / 4],
                               rtol=1e-6)


def test_date_labels_agree_with_their_input_dates():
    from pipelines.datasets.dates import CASES, HUMAN, SPACINGS, generate, render
    rows = generate(3000, seed=123)
    assert rows == generate(3000, seed=123)                     # reproducible
    assert {r["case"] for r in rows} == set(CASES)
    assert {r["spacing"] for r in rows} == set(SPACINGS)
    assert {r["pattern"] for r in rows} >= set(HUMAN)          # every template is drawn
    new_year = 0
    for r in rows:
        date = datetime.date.fromisoformat(r["iso"])
        # the label, written back in the same pattern, locale, case and spacing, is the input
        assert render(date, r["pattern"], r["locale"], r["case"], r["spacing"]) == r["text"], r
        if str(date.year) not in r["text"]:                   # calendar year, not 'Y'
            assert 1969 <= date.year <= 2068 and f"{date.year % 100:02d}" in r["text"], r
        if (date.month, date.day) in ((12, 30), (12, 31), (1, 1), (1, 2)):
            new_year += 1
    assert new_year > 50


def _read_numeric(text):
    """The docstring's rule for all-numeric dates, written independently of the generator:
    None for a date with words in it, else the date its numbers mean."""
    import re
    text = text.strip()
    if re.search(r"[^\d./\- ]", text):
        return None
    parts = [int(p) for p in re.split(r"[./\- ]+", text)]
    raw = re.split(r"[./\- ]+", text)
    if len(raw[0]) == 4:                                       # year first
        y, m, d = parts
    else:
        a, b, y = parts
        two_digit = len(raw[2]) == 2
        m, d = (a, b) if "/" in text and two_digit and a <= 12 else (b, a)
        if two_digit:
            y += 1900 if y >= 69 else 2000
    return datetime.date(y, m, d)


def test_all_numeric_dates_have_one_reading():
    from pipelines.datasets.dates import generate
    rows = generate(6000, seed=7)
    numeric = [r for r in rows if _read_numeric(r["text"]) is not None]
    assert len(numeric) > 1000
    for r in numeric:
        assert _read_numeric(r["text"]).isoformat() == r["iso"], r
    # en_US's month-first short form and a day-first locale's both occur
    assert any(r["pattern"] == "short" and r["locale"] == "en_US" for r in numeric)
    assert any(r["pattern"] == "d/M/yy" for r in numeric)
    assert _read_numeric("3/7/16") == datetime.date(2016, 3, 7)
    assert _read_numeric("16/12/69") == datetime.date(1969, 12, 16)


def test_dates_as_people_write_them_follow_their_stated_rules():
    """HUMAN's templates, checked against the rules written out here: English ordinals,
    French's "1er", abbreviated months with and without a period, day-first dots, title
    case and the spacings; and every form the issue names occurs in training data."""
    import re
    from pipelines.datasets.dates import generate, ordinal, render
    suffixes = {1: "st", 2: "nd", 3: "rd", 11: "th", 12: "th", 13: "th", 21: "st", 22: "nd",
                23: "rd", 24: "th", 30: "th", 31: "st"}
    assert all(ordinal(d) == f"{d}{s}" for d, s in suffixes.items())
    day = datetime.date(1976, 3, 3)
    assert render(day, "MMMM o, y", "en_US", "as_is") == "March 3rd, 1976"
    assert render(day, "o MMMM y", "en_GB", "lower") == "3rd march 1976"
    assert render(day, "'the' o 'of' MMMM y", "en_GB", "title") == "The 3rd Of March 1976"
    assert render(datetime.date(1983, 11, 19), "'the' o 'of' MMMM y", "en_US",
                  "as_is") == "the 19th of November 1983"
    assert render(datetime.date(1972, 1, 17), "MMMM o, y", "en_US", "as_is",
                  "double") == "January  17th,  1972"
    june = datetime.date(2022, 6, 13)
    assert render(june, "MMM. d y", "en_US", "as_is") == "Jun. 13 2022"
    assert render(june, "MMM_ d, y", "en_US", "upper", "tight") == "JUN 13,2022"
    assert render(datetime.date(1999, 12, 1), "d MMM_ y", "fr_FR", "as_is") == "1 déc 1999"
    assert render(datetime.date(1999, 12, 1), "d MMM. y", "fr_FR", "as_is") == "1 déc. 1999"
    assert render(datetime.date(1789, 7, 1), "O MMMM y", "fr_FR", "as_is",
                  "padded") == " 1er juillet 1789 "
    assert render(datetime.date(2028, 11, 2), "d.MM.y", "de_DE", "as_is") == "2.11.2028"
    rows = generate(4000, seed=11)
    for r in rows:
        if re.fullmatch(r"\s*\d{1,2}\. ?\d{1,2}\. ?\d{4}\s*", r["text"]):  # dotted, day first
            d, m, _ = (int(x) for x in re.findall(r"\d+", r["text"]))
            assert r["iso"].endswith(f"-{m:02d}-{d:02d}"), r
        if re.search(r"\d(st|nd|rd|th)\b", r["text"], re.I):            # an ordinal day
            d = int(re.search(r"(\d+)(st|nd|rd|th)\b", r["text"], re.I).group(1))
            assert r["iso"].endswith(f"-{d:02d}") and r["locale"].startswith("en_"), r
    def some(pattern):
        return re.compile(pattern, re.I).search
    for form in (r"^\s*\d+(st|nd|rd|th) [a-z]+ \d{4}\s*$",          # 3rd march 1976
                 r"^\s*the \d+(st|nd|rd|th) of [a-z]+,? \d{4}\s*$",   # the 19th of November
                 r"[a-z]+  \d+(st|nd|rd|th),  \d{4}",                  # doubled spaces
                 r"^\s*[a-z]{3}\. \d+ \d{4}\s*$",                        # Jun. 13 2022
                 r"^\s*\d{2}\.\d{2}\.\d{4}\s*$"):                           # 02.11.2028
        assert any(some(form)(r["text"]) for r in rows), form


def test_dates_probe_rows_and_its_one_line_error(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.join(root, "benchmarks"))
    import dates_probe
    rows = dates_probe.probe_rows(40, seed=3)
    assert rows == dates_probe.probe_rows(40, seed=3) and len(rows) == 80
    for pattern, text, iso in rows[::2]:                    # as written by babel, en_US
        from babel.dates import format_date
        assert format_date(datetime.date.fromisoformat(iso), pattern, "en_US") == text
    from pipelines.datasets.dates import LOCALES
    other = dates_probe.locale_rows(3, seed=3)
    assert other == dates_probe.locale_rows(3, seed=3)
    assert {loc for loc, _, _ in other} == set(dates_probe.OTHER_LOCALES)
    assert not set(dates_probe.OTHER_LOCALES) & set(LOCALES)     # none trained on
    for _, text, iso in other:
        if _read_numeric(text) is not None:                     # the builder's rule holds
            assert _read_numeric(text).isoformat() == iso, text
    from pipelines.datasets.dates import EXTRA, HUMAN, NAMED, generate
    assert not set(dates_probe.HELD_OUT) & set(HUMAN).union(NAMED, EXTRA)
    assert set(dates_probe.TRAINED) <= set(HUMAN).union(EXTRA)
    human = dates_probe.human_rows(6, seed=3)
    assert human == dates_probe.human_rows(6, seed=3)
    assert len(human) == 6 * (len(dates_probe.HELD_OUT) + len(dates_probe.TRAINED))
    for form, text, iso in human:
        if form == "dd.MM.y":                                   # both readings are dates
            assert int(iso[5:7]) <= 12 and int(iso[8:]) <= 12, text
    # the held-out forms' tell-tales never occur in training data
    import re
    short = r"\b(jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?"
    tells = (short + r" +\d+(st|nd|rd|th)\b",                    # a short month, then an ordinal
             r"of +" + short + r" +\d{4}",                       # "the 3rd of Mar 1976"
             r"day,? +[a-z]+ +\d+(st|nd|rd|th)",               # a weekday, then an ordinal
             r"^\s*\d+(st|nd|rd|th) +of",                      # "of" without "the"
             r"[a-z] +the +\d",                                # "March the 3rd"
             r"^\s*\d{4}\.\d{2}\.\d{2}\s*$")                     # year first, dotted
    train = [r["text"] for r in generate(6000, seed=0)]
    for tell in tells:
        assert not [t for t in train if re.search(tell, t, re.I)], tell
    assert all(any(re.search(tell, t, re.I) for _, t, _ in human) for tell in tells)
    proc = subprocess.run([sys.executable, os.path.join(root, "benchmarks", "dates_probe.py"),
                           str(tmp_path / "nothing")], capture_output=True, text=True)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "no SavedModel at" in proc.stderr and "export/saved_model" in proc.stderr


def test_dates_held_out_inputs_are_not_in_train(tmp_path):
    import tensorflow_datasets as tfds
    from pipelines.datasets import dates  # noqa: F401
    builder = tfds.builder("dates/small", data_dir=str(tmp_path))
    builder.download_and_prepare()
    text = {s: {e["source"].decode() for e in tfds.as_numpy(builder.as_dataset(split=s))}
            for s in ("train", "validation", "test")}
    assert not (text["train"] & text["test"]) and not (text["train"] & text["validation"])


def test_piano_roll_round_trips_a_chorale():
    from music21 import corpus
    from pipelines.datasets.bach_chorales import roll_to_stream, stream_to_roll
    score = corpus.parse("bach/bwv269")
    roll = stream_to_roll(score)
    assert roll.shape[1] == 128 and roll.sum() > 0
    assert (roll.sum(1) <= 4).all()                    # four voices
    back = stream_to_roll(roll_to_stream(roll), length=len(roll))
    np.testing.assert_array_equal(back, roll)
    # the first soprano note sits where the score puts it
    soprano = score.parts[0].stripTies().flatten().notes[0]
    assert roll[int(round(float(soprano.offset) / 0.5)), soprano.pitch.midi] == 1



def test_in_graph_tokenizers():
    from pipelines import text
    words = text.word_tokens(["¿Dónde está Tom's café?", "  "], lower=True).to_list()
    assert [w.decode() for w in words[0]] == ["¿", "dónde", "está", "tom", "'", "s",
                                              "café", "?"]
    assert words[1] == []
    out = text.detokenize(tf.ragged.constant([["Tom", "'", "s", "here", ".", "(", "yes",
                                               ")"]])).numpy()[0].decode()
    assert out == "Tom's here. (yes)"
    # detokenize undoes word_tokens on English as it is written
    for sentence in ['He shouted, "Get out!"', "It's 2:30 p.m., isn't it?",
                     "It cost $2,000,000 or €30.", "I'm color-blind and thirty-four.",
                     "Let's take a 10-minute break.", "Tom died on October 20, 2013.",
                     '"Who is it?" "It\'s me."', "It’s 3.5 km.", "My parents' house.",
                     "A just-a-friend promotion."]:
        tokens = text.word_tokens([sentence], lower=False)
        assert text.detokenize(tokens).numpy()[0].decode() == sentence
    vocab = text.build_vocab([["b", "a", "b"], ["c"]], min_count=1)
    assert vocab == [text.PAD, text.UNK, "b", "a", "c"]
    assert text.build_vocab([["b", "a", "b"]], min_count=2) == [text.PAD, text.UNK, "b"]
    table = text.lookup_table(vocab)
    assert table.lookup(tf.constant(["c", "zzz"])).numpy().tolist() == [4, 1]
