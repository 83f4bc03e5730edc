"""The results table's Keras baselines (benchmarks/keras_baselines.py) on each task's tiny
transform artifacts: every one trains, keeps the weights of its best validation epoch
(the validation loss reached the callback), and reports finite metrics on both splits."""

import importlib
import math

import pytest

from benchmarks import keras_baselines, results_table
from pipelines import tasks
from pipelines.train import run_pipeline
from tests.data import TASK_DATA

# baseline -> (config module, its keyword arguments, the metric it reports)
BASELINES = {
    "char_lm": ("char_lm_shakespeare", {"cell": "GRU", "units": 16}, "nats_per_char"),
    "sentiment_bigru": ("sentiment", {}, "accuracy"),
    "sentiment_tfidf": ("sentiment", {}, "accuracy"),
    "upos_bilstm": ("upos", {}, "accuracy"),
    "seq2seq_bilstm": ("dates", {"encoder_units": 8, "units": 16}, "exact_match"),
    "seq2seq_gru": ("dates", {"units": 16}, "exact_match"),
    "music_gru": ("bach", {"units": 16}, "nats_per_step"),
}


def test_every_baseline_of_the_table_is_tested_here():
    used = {fn for *_, baselines in results_table.TASKS.values() for fn, _ in baselines}
    assert used <= set(BASELINES)


@pytest.mark.parametrize("fn_name", [
    pytest.param(n, marks=pytest.mark.data(TASK_DATA[BASELINES[n][0]]))
    if BASELINES[n][0] in TASK_DATA else n for n in sorted(BASELINES)])
def test_baseline_keeps_its_best_validation_epoch(fn_name, tmp_path, monkeypatch):
    module, kwargs, metric = BASELINES[fn_name]
    config = importlib.import_module(f"configs.{module}").get_config("tiny")
    workdir = str(tmp_path / "run")
    run_pipeline(config, workdir, ["ingest", "transform"], log=lambda *a: None)
    made, original = [], keras_baselines.best_weights

    def recording():
        made.append(original())
        return made[-1]
    monkeypatch.setattr(keras_baselines, "best_weights", recording)
    kwargs = dict(kwargs, task=tasks.get(config))
    result = getattr(keras_baselines, fn_name)(config, workdir, 2.0, **kwargs)
    assert len(made) == 1
    assert math.isfinite(made[0].best), "the callback never saw a validation loss"
    for split in ("validation", "test"):
        assert math.isfinite(result[split][metric]), (split, result[split])
    assert result["parameters"] > 0 and result["train_seconds"] >= 0
