"""No bad model is blessed or pushed: non-finite metrics fail the blessing, a non-finite
record of the last blessed model is ignored with a warning, and config values that would
train nothing or train the loss up are refused before any stage runs."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from configs import default
from pipelines import blessing, common, config_check, tasks
from pipelines.tasks import base
from pipelines.train import run_pipeline

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAN, INF = float("nan"), float("inf")


def tiny(serving_dir="", **overrides):
    config = default.get_config("tiny")
    config.export.serving_dir = serving_dir
    for path, value in overrides.items():
        section, key = path.split(".")
        config[section][key] = value
    return config


# ------------------------------------------------------------------ the decision
@pytest.mark.parametrize("value", [NAN, INF, -INF])
@pytest.mark.parametrize("higher_is_better", [True, False])
def test_non_finite_metric_is_never_blessed(value, higher_is_better):
    blessed, reason = blessing.decide("m", value, 0.0 if higher_is_better else 10.0,
                                      higher_is_better, None)
    assert not blessed and reason == f"val m {value} is not finite"


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_nan_threshold_fails_every_model(higher_is_better):
    blessed, reason = blessing.decide("m", 1.0, NAN, higher_is_better, None)
    assert not blessed and "fails" in reason


@pytest.mark.parametrize("value,previous,blessed", [
    (0.80, 0.79, True), (0.79, 0.79, True), (0.78, 0.79, False)])
def test_higher_is_better_against_last_blessed(value, previous, blessed):
    got, reason = blessing.decide("accuracy", value, 0.5, True,
                                  {"metric": "accuracy", "value": previous})
    assert got is blessed, reason
    assert ("no worse than the last blessed" in reason) is blessed


@pytest.mark.parametrize("value,blessed", [(1.40, True), (1.50, True), (1.51, False)])
def test_lower_is_better_threshold_and_last_blessed(value, blessed):
    got, reason = blessing.decide("nats_per_char", value, 2.5, False,
                                  {"metric": "nats_per_char", "value": 1.5})
    assert got is blessed, reason


def test_last_blessed_of_another_metric_is_not_compared():
    got, reason = blessing.decide("accuracy", 0.6, 0.5, True,
                                  {"metric": "exact_match", "value": 0.9})
    assert got and "last blessed" not in reason


@pytest.mark.parametrize("value", [NAN, INF, None, "nan"])
def test_non_finite_blessed_record_is_no_previous_model_with_a_warning(value, tmp_path):
    config = tiny(str(tmp_path / "serving"))
    path = blessing.blessed_path(config, str(tmp_path))
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        json.dump({"version": 1, "metric": "nats_per_char", "value": value}, f)
    record, warning = blessing.last_blessed(config, str(tmp_path))
    assert record is None
    assert warning == (f"{path} holds a non-finite nats_per_char ({value}); treating it "
                       "as no previous blessed model")


def test_char_lm_record_of_the_old_format_is_still_compared(tmp_path):
    config = tiny(str(tmp_path / "serving"))
    path = blessing.blessed_path(config, str(tmp_path))
    common.write_json_atomic(path, {"version": 3, "validation_nats_per_char": 1.5})
    record, warning = blessing.last_blessed(config, str(tmp_path))
    assert warning == "" and record["metric"] == "nats_per_char" and record["value"] == 1.5


# ------------------------------------------------------------------ config values
@pytest.mark.parametrize("field,value,message", [
    ("train.steps", -5, "train.steps=-5 must be a whole number >= 1; set --config.train.steps"),
    ("train.steps", 0, "train.steps=0 must be a whole number >= 1"),
    ("train.learning_rate", NAN, "train.learning_rate=nan must be a finite number > 0"),
    ("train.learning_rate", INF, "train.learning_rate=inf must be a finite number > 0"),
    ("train.learning_rate", -3e-3, "train.learning_rate=-0.003 must be a finite number > 0"),
    ("train.learning_rate", 0.0, "train.learning_rate=0.0 must be a finite number > 0"),
    ("train.batch_size", 0, "train.batch_size=0 must be a whole number >= 1"),
    ("train.batch_size", -4, "train.batch_size=-4 must be a whole number >= 1"),
    ("train.checkpoint_every", 0, "train.checkpoint_every=0 must be a whole number >= 1"),
    ("model.units", 0, "model.units=0 must be a whole number >= 1"),
    ("train.clip_norm", NAN, "train.clip_norm=nan must be a finite number > 0"),
    ("eval.bless_max_nats", NAN, "eval.bless_max_nats=nan must be a finite number > 0"),
    ("train.seq_len", 1000000, "train.seq_len=1000000 is above 100,000"),
])
def test_bad_config_value_is_refused_before_any_stage(field, value, message, tmp_path):
    workdir = tmp_path / "w"
    with pytest.raises(common.UserError) as e:
        run_pipeline(tiny(**{field: value}), str(workdir), ["ingest", "transform", "train"],
                     log=lambda *a: None)
    assert str(e.value).startswith(message), str(e.value)
    assert "\n" not in str(e.value)
    assert not workdir.exists()


def test_every_shipped_config_passes_the_checks():
    import importlib
    for name in ("default", "char_lm_shakespeare", "char_lm_shakespeare_deep",
                 "char_lm_shakespeare_gru", "sentiment", "upos", "dates", "translation",
                 "bach"):
        module = importlib.import_module(f"configs.{name}")
        variants = (None, "tiny") + (("keras_arch",) if name in (
            "char_lm_shakespeare", "char_lm_shakespeare_gru", "char_lm_shakespeare_deep",
            "sentiment", "upos", "dates",
            "translation", "bach") else ())
        for variant in variants:
            config_check.check(module.get_config(variant))


@pytest.mark.parametrize("override,message", [
    ("--config.train.learning_rate=nan", "train.learning_rate=nan must be"),
    ("--config.train.steps=-5", "train.steps=-5 must be"),
])
def test_cli_refuses_a_bad_value_in_one_line_with_status_2(override, message, tmp_path):
    out = subprocess.run([sys.executable, "-m", "pipelines.train",
                          "--config=configs/default.py:tiny", f"--workdir={tmp_path / 'w'}",
                          override], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-3000:]
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], out.stderr[-3000:]
    assert not (tmp_path / "w").exists()


# ------------------------------------------------------------------ end to end
def _poison_best_weights(config, workdir):
    """Makes the trained model's best weights NaN, as a diverged update would."""
    model = base.load_best(tasks.get(config), workdir)
    model.set_weights([np.full_like(w, np.nan) for w in model.get_weights()])
    model.save_weights(os.path.join(workdir, "train", "best.weights.h5"))


def test_nan_model_is_not_blessed_and_the_blessed_version_survives(tmp_path):
    serving = str(tmp_path / "serving")
    good = run_pipeline(tiny(serving), str(tmp_path / "good"),
                        ["ingest", "transform", "train", "evaluate", "export", "push"],
                        log=lambda *a: None)
    assert good["push"].endswith(os.path.join("pydoc_char_lm", "1"))
    path = os.path.join(serving, "pydoc_char_lm", "blessed.json")
    before = common.read_json(path)
    assert before["version"] == 1 and math.isfinite(before["value"])

    bad, config, messages = str(tmp_path / "bad"), tiny(serving), []
    run_pipeline(config, bad, ["ingest", "transform", "train"], log=lambda *a: None)
    _poison_best_weights(config, bad)
    results = run_pipeline(config, bad, ["evaluate", "export", "push"], log=messages.append)
    record = common.read_json(os.path.join(bad, "evaluate", "blessing.json"))
    assert record["blessed"] is False and record["reason"] == "val nats_per_char nan is not finite"
    assert math.isnan(record["value"])
    assert results["push"] is None
    assert "  not pushed: the model is not blessed" in messages
    assert sorted(v for v in os.listdir(os.path.dirname(path)) if v.isdigit()) == ["1"]
    assert common.read_json(path) == before


def test_a_nan_blessed_record_does_not_block_or_pass_everything(tmp_path):
    """A blessed.json holding NaN (as older code wrote it) is ignored with a warning; the
    new model is judged on its own, pushed, and the record is finite again."""
    serving = str(tmp_path / "serving")
    path = os.path.join(serving, "pydoc_char_lm", "blessed.json")
    common.write_json_atomic(path, {"version": 1, "validation_nats_per_char": NAN})
    messages = []
    results = run_pipeline(tiny(serving), str(tmp_path / "w"),
                           ["ingest", "transform", "train", "evaluate", "export", "push"],
                           log=messages.append)
    warning = [m for m in messages if m.startswith("  warning:")]
    assert warning == [f"  warning: {path} holds a non-finite nats_per_char (nan); "
                       "treating it as no previous blessed model"]
    assert results["push"].endswith(os.path.join("pydoc_char_lm", "1"))
    record = common.read_json(path)
    assert record["metric"] == "nats_per_char" and math.isfinite(record["value"])
