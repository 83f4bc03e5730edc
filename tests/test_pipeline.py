"""The TFX-style pipeline: stages end to end on the tiny config, the SavedModel in a fresh
process, TensorBoard tags, exact resume, and one-line errors for bad input."""

import json
import os
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from configs import default
from pipelines import common, export, ingest, tasks, training
from pipelines.tasks import base, lm, lm_data
from pipelines.train import run_pipeline
from tests.events import logged

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_best(config, workdir):
    """(the best model, its vocabulary) of a char LM run."""
    task = tasks.get(config)
    return base.load_best(task, workdir), task.meta["vocab"]


def vocab_of(workdir):
    return common.read_json(os.path.join(workdir, "transform", "meta.json"))["vocab"]


def tiny(**overrides):
    config = default.get_config("tiny")
    for path, value in overrides.items():
        section, key = path.split(".")
        config[section][key] = value
    return config


# the BPTT view on for tiny_run (the tiny config turns it off); a later stage run in its
# workdir must pass the same config
VIEW = {"train.bptt_view_rows": 8}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("tiny"))
    start = time.time()
    results = run_pipeline(tiny(**VIEW), workdir,
                           ["ingest", "transform", "train", "evaluate", "export", "push"],
                           log=lambda *a: None)
    return workdir, results, time.time() - start


def test_tiny_config_runs_every_stage_in_under_a_minute(tiny_run):
    workdir, results, seconds = tiny_run
    assert seconds < 60, seconds
    for stage in ("ingest", "transform", "train", "evaluate", "export"):
        manifest = common.read_manifest(workdir, stage)
        assert manifest["stage"] == stage and manifest["code_revision"]
        assert manifest["inputs_fingerprint"] and manifest["finished"]
    assert common.read_manifest(workdir, "transform")["vocab_hash"]
    config = tiny()                          # vanilla, units U, vocabulary V (transform)
    U, V = config.model.units, len(vocab_of(workdir))
    want = V * U + U * U + U + U * V + V     # W_ax, W_aa, b_a, W_ya, b_y
    assert common.read_manifest(workdir, "train")["metrics"]["parameters"] == want
    assert os.path.isdir(os.path.join(results["push"], "variables"))
    assert results["push"].endswith(os.path.join("serving", "pydoc_char_lm", "1"))
    # the LM for rnn_tf.CharLMEmbedding: its .keras file and vocabulary beside the export
    lm = keras.saving.load_model(os.path.join(results["export"], "char_lm.keras"))
    assert lm.count_params() == want
    vocab = common.read_json(os.path.join(results["export"], "char_lm_vocab.json"))
    assert vocab == {"vocab": vocab_of(workdir), "reverse": False}
    assert common.read_json(os.path.join(workdir, "config.json"))["name"] == "pydoc_char_lm"


def test_unchanged_stage_is_skipped(tiny_run):
    workdir, _, _ = tiny_run
    before = common.read_manifest(workdir, "transform")["finished"]
    run_pipeline(tiny(**VIEW), workdir, ["ingest", "transform"], log=lambda *a: None)
    assert common.read_manifest(workdir, "transform")["finished"] == before


def test_splits_are_disjoint_and_deterministic(tiny_run):
    from pipelines.datasets.pydoc_text import split_of
    from pydoc_data.topics import topics
    splits = {s: {t for t in topics if split_of(t) == s}
              for s in ("train", "validation", "test")}
    assert sum(len(v) for v in splits.values()) == len(topics)
    assert not (splits["train"] & splits["test"]) and not (splits["train"]
                                                            & splits["validation"])
    assert splits["test"] and splits["validation"]


FRESH_PROCESS = r"""
import json, sys
import tensorflow as tf
m = tf.saved_model.load(sys.argv[1])
g = m.signatures["generate"](prime=tf.constant("The "), length=tf.constant(40),
                             temperature=tf.constant(0.8), seed=tf.constant(3))
s = m.signatures["score"](texts=tf.constant(["def f(x):\n    return x", "na\u00efve \u2603"]))
# edge batches: nothing to predict (no string longer than one character), and no strings
short = m.signatures["score"](texts=tf.constant(["", "a"]))
empty = m.signatures["score"](texts=tf.constant([], tf.string))
g0 = m.signatures["generate"](prime=tf.constant("The "), length=tf.constant(0),
                              temperature=tf.constant(0.8), seed=tf.constant(3))
assert not any(k.startswith(("rnn_tf", "pipelines")) for k in sys.modules), "imported us"
print(json.dumps({"text": g["text"].numpy().decode(),
                  "nats": s["nats_per_char"].numpy().tolist(),
                  "unknown": s["unknown_chars"].numpy().tolist(),
                  "predicted": s["predicted_chars"].numpy().tolist(),
                  "short": {k: v.numpy().tolist() for k, v in short.items()},
                  "empty": {k: v.numpy().tolist() for k, v in empty.items()},
                  "g0": g0["text"].numpy().decode()}))
"""


def test_saved_model_in_a_fresh_process_matches_in_process(tiny_run, tmp_path):
    workdir, _, _ = tiny_run
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", FRESH_PROCESS, export.export_dir(workdir)],
                         cwd=str(tmp_path), env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    fresh = json.loads(out.stdout.strip().splitlines()[-1])
    model, vocab = load_best(tiny(), workdir)
    serving = lm.CharLMServing(model, vocab)
    g = serving.generate(tf.constant("The "), tf.constant(40), tf.constant(0.8),
                         tf.constant(3))
    s = serving.score(tf.constant(["def f(x):\n    return x", "na\u00efve \u2603"]))
    assert fresh["text"] == g["text"].numpy().decode()
    assert fresh["text"].startswith("The ") and len(fresh["text"]) == 44
    np.testing.assert_allclose(fresh["nats"], s["nats_per_char"], rtol=1e-5)
    assert fresh["predicted"] == [21, 6]                  # every character after the first
    assert fresh["unknown"][1] >= 1                        # the snowman is not in the docs
    assert fresh["short"] == {"nats_per_char": [0.0, 0.0], "predicted_chars": [0, 0],
                              "unknown_chars": [0, 0]}
    assert fresh["empty"] == {"nats_per_char": [], "predicted_chars": [], "unknown_chars": []}
    assert fresh["g0"] == "The "                           # length 0: just the prime
    with pytest.raises(tf.errors.InvalidArgumentError, match="length must be >= 0"):
        serving.generate(tf.constant("The "), tf.constant(-1), tf.constant(0.8), tf.constant(3))


def test_saved_model_cli_show_and_run(tiny_run):
    workdir, _, _ = tiny_run
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    if not os.path.exists(cli):
        pytest.skip("saved_model_cli is not on this Python's bin directory")
    out = subprocess.run([cli, "show", "--dir", export.export_dir(workdir), "--all"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    for name in ("generate", "score", "serving_default"):
        assert f"signature_def['{name}']" in out.stdout
    out = subprocess.run([cli, "run", "--dir", export.export_dir(workdir), "--tag_set", "serve",
                          "--signature_def", "score", "--input_exprs",
                          "texts=['def f(x): pass']"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "nats_per_char" in out.stdout and "predicted_chars" in out.stdout


def test_helpfull_lists_the_flags():
    out = subprocess.run([sys.executable, "-m", "pipelines.train", "--helpfull"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    # absl exits with status 1 after printing help
    for flag in ("--config", "--workdir", "--stages", "--[no]resume", "--[no]overwrite",
                 "--config.train.steps"):
        assert flag in out.stdout, flag


def _tensors(path):
    from tensorboard.backend.event_processing import event_accumulator
    acc = event_accumulator.EventAccumulator(path, size_guidance={
        event_accumulator.TENSORS: 0})
    acc.Reload()
    return acc


def test_tensorboard_logs_have_the_expected_tags(tiny_run):
    workdir, _, _ = tiny_run
    logs = os.path.join(workdir, "train", "logs")
    tags = {run: set(_tensors(os.path.join(logs, run)).Tags()["tensors"])
            for run in ("train", "validation")}
    for tag in ("loss", "nats_per_char", "bits_per_char", "gradient_global_norm",
                "parameter_norm", "learning_rate", "tokens_per_s", "sample",
                "bptt_gradient", "gradient_reach_steps", "activations/rnn_0"):
        assert tag in tags["train"], (tag, sorted(tags["train"]))
    assert any(t.startswith("weights/") for t in tags["train"])
    # the same quantities under the same names, so train and validation share a chart
    assert {"loss", "nats_per_char", "bits_per_char"} <= tags["validation"]
    # the config is logged as hparams at logs/, its metrics the validation ones
    root = _tensors(logs)
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2
    assert {metadata.EXPERIMENT_TAG, metadata.SESSION_START_INFO_TAG} <= set(
        root.Tags()["tensors"])
    experiment = plugin_data_pb2.HParamsPluginData.FromString(
        root.SummaryMetadata(metadata.EXPERIMENT_TAG).plugin_data.content).experiment
    assert {(m.name.group, m.name.tag) for m in experiment.metric_infos} == {
        ("validation", "loss"), ("validation", "nats_per_char")}
    # text samples are preformatted (a Markdown code block keeps their whitespace)
    sample = _tensors(os.path.join(logs, "train")).Tensors("sample")[-1]
    text = tf.make_ndarray(sample.tensor_proto).item().decode("utf-8")
    assert text.startswith("    The ") and all(
        line.startswith("    ") for line in text.split("\n")), text


def _final_weights(config, workdir):
    """The model weights of the newest checkpoint, restored through the object graph."""
    task = tasks.get(config)
    base.load_meta(task, workdir)
    model = task.build_model()
    latest = tf.train.latest_checkpoint(os.path.join(workdir, "train", "checkpoints"))
    tf.train.Checkpoint(model=model).read(latest).expect_partial()
    return {w.path: w.numpy() for w in model.weights}


def _best_weights(config, workdir):
    model, _ = load_best(config, workdir)
    return {w.path: w.numpy() for w in model.weights}


@pytest.mark.parametrize("ema_decay", [0.0, 0.9])
def test_resume_after_interrupt_equals_uninterrupted_run(ema_decay, tmp_path):
    """With train.ema_decay the checkpoint carries the moving average too: the resumed
    run selects the same averaged weights."""
    config = tiny(**{"train.steps": 30, "train.checkpoint_every": 100,
                     "train.eval_every": 100, "train.sample_every": 100,
                     "train.ema_decay": ema_decay})
    quiet = lambda *a: None
    straight = str(tmp_path / "straight")
    run_pipeline(config, straight, ["ingest", "transform", "train"], log=quiet)
    interrupted = str(tmp_path / "interrupted")
    first = tiny(**{"train.steps": 30, "train.checkpoint_every": 100,
                    "train.eval_every": 100, "train.sample_every": 100,
                    "train.ema_decay": ema_decay, "train.interrupt_after_steps": 13})
    assert run_pipeline(first, interrupted, ["ingest", "transform", "train"],
                        log=quiet)["train"] is None
    run_pipeline(config, interrupted, ["train"], resume=True, log=quiet)
    for read in (_final_weights, _best_weights):
        a, b = read(config, straight), read(config, interrupted)
        assert a.keys() == b.keys() and len(a) >= 4
        for k in a:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-6, atol=1e-7, err_msg=k)


def test_ema_weights_are_the_moving_average_and_are_selected(tmp_path):
    """NumPy oracle for one update: the saved best weights are d w<0> + (1 - d) w<1>, where
    w<0> is the seeded initialisation and w<1> the raw weights after the step (the
    checkpoint); validation logs the raw weights' score beside the averaged one."""
    d = 0.75
    config = tiny(**{"train.steps": 1, "train.ema_decay": d, "train.warmup_steps": 0,
                     "train.learning_rate": 0.05})
    workdir = str(tmp_path / "run")
    run_pipeline(config, workdir, ["ingest", "transform", "train"], log=lambda *a: None)
    import keras
    keras.utils.set_random_seed(config.train.seed)     # as the trainer builds w<0>
    task = tasks.get(config)
    base.load_meta(task, workdir)
    model = task.build_model()
    w0 = {w.path: w.numpy() for w in model.weights}
    w1, best = _final_weights(config, workdir), _best_weights(config, workdir)
    assert w0.keys() == w1.keys() == best.keys()
    for k in w0:
        assert not np.allclose(w0[k], w1[k]) or not np.any(w0[k]), k   # it trained
        np.testing.assert_allclose(best[k], d * w0[k] + (1 - d) * w1[k], rtol=1e-5,
                                   atol=1e-6, err_msg=k)
    tags = set()
    path = os.path.join(workdir, "train", "logs", "validation")
    for name in os.listdir(path):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(path, name)):
            tags |= {v.tag for v in event.summary.value}
    assert {"nats_per_char", "nats_per_char_without_ema"} <= tags


def test_bad_ema_decay_is_a_user_error(tmp_path):
    with pytest.raises(common.UserError, match="train.ema_decay=1.0 is out of range"):
        run_pipeline(tiny(**{"train.ema_decay": 1.0}), str(tmp_path / "w"),
                     ["ingest", "transform", "train"], log=lambda *a: None)


def test_window_starts_lie_inside_one_document():
    docs = [np.arange(10), np.arange(100, 103), np.arange(200, 207)]
    out = lm_data.window_starts(docs, seq_len=4)
    np.testing.assert_array_equal(out["stream"], np.concatenate(docs))
    # windows of 5 characters: starts 0..5 in the first document, none in the 3-character
    # one, 13..15 in the last
    np.testing.assert_array_equal(out["starts"], [0, 1, 2, 3, 4, 5, 13, 14, 15])
    for s in out["starts"]:
        window = out["stream"][s:s + 5]
        assert any(set(window) <= set(d) for d in docs)


def test_random_windows_train_and_resume_exactly(tmp_path):
    """train.windows='random': each step draws B windows from the training text by (seed,
    step) alone, so an interrupted and resumed run ends with the same weights."""
    common_overrides = {"train.steps": 24, "train.checkpoint_every": 100,
                        "train.eval_every": 100, "train.sample_every": 100,
                        "train.windows": "random", "train.carry_state": False}
    config = tiny(**common_overrides)
    quiet = lambda *a: None
    straight = str(tmp_path / "straight")
    run_pipeline(config, straight, ["ingest", "transform", "train"], log=quiet)
    interrupted = str(tmp_path / "interrupted")
    first = tiny(**common_overrides, **{"train.interrupt_after_steps": 9})
    run_pipeline(first, interrupted, ["ingest", "transform", "train"], log=quiet)
    run_pipeline(config, interrupted, ["train"], resume=True, log=quiet)
    a, b = _final_weights(config, straight), _final_weights(config, interrupted)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-6, atol=1e-7, err_msg=k)
    # the draws: inputs and targets are one window shifted by one character, from the text
    train = base.load_features(straight, "train")
    batches = iter(tasks.get(config).train_dataset(train))
    window_batch = tasks.get(config).window_batch(train)

    def draw(step):
        b = window_batch(tf.constant(step, tf.int64))
        return b["inputs"], b["targets"], b["mask"], b["reset"]
    x, y, m, r = draw(3)
    x2, _, _, _ = draw(3)
    x3, _, _, _ = draw(4)
    for _ in range(3):
        next(batches)
    np.testing.assert_array_equal(next(batches)["inputs"], x)     # element 3 is step 3's
    np.testing.assert_array_equal(x, x2)
    assert not np.array_equal(x, x3)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    stream = train["stream"]
    for row, target in zip(x.numpy(), y.numpy()):
        s = [i for i in range(len(stream) - 20) if (stream[i:i + 20] == row).all()]
        assert s and (stream[s[0] + 1:s[0] + 21] == target).all()
    assert bool(tf.reduce_all(m)) and bool(tf.reduce_all(r))


@pytest.mark.parametrize("overrides,message", [
    ({"train.windows": "shuffled"}, "train.windows='shuffled' is not known"),
    ({"train.windows": "random", "train.carry_state": True}, "set train.carry_state=False"),
    ({"train.windows": "random", "train.carry_state": False, "train.seq_len": 25000},
     "no training document is longer than train.seq_len"),
])
def test_bad_window_settings_are_user_errors(overrides, message, tmp_path):
    with pytest.raises(common.UserError, match=message):
        run_pipeline(tiny(**overrides), str(tmp_path / "w"), ["ingest", "transform", "train"],
                     log=lambda *a: None)


def test_time_budget_stop_evaluates_the_last_step(tmp_path):
    """A run stopped by train.time_budget_s evaluates its last step (the end of a decayed
    schedule is usually the best model), not only the last multiple of eval_every."""
    workdir = str(tmp_path / "run")
    config = tiny(**{"train.steps": 1000, "train.time_budget_s": 1e-3,
                     "train.eval_every": 100})
    run_pipeline(config, workdir, ["ingest", "transform", "train"], log=lambda *a: None)
    metrics = common.read_manifest(workdir, "train")["metrics"]
    assert metrics["stopped_by"] == "time_budget" and metrics["steps"] < 100
    assert np.isfinite(metrics["best_val_nats_per_char"])
    assert os.path.exists(os.path.join(workdir, "train", "best.weights.h5"))


def test_stop_at_step_ends_the_run_there_on_the_whole_schedule(tmp_path):
    """train.stop_at_step ends training at that step as a time budget would (evaluated,
    checkpointed, selected), while the learning rate still follows the schedule over
    train.steps: the first steps of a longer run, for step-matched comparisons."""
    workdir = str(tmp_path / "run")
    config = tiny(**{"train.steps": 40, "train.stop_at_step": 12, "train.warmup_steps": 2,
                     "train.log_every": 1, "train.eval_every": 100})
    run_pipeline(config, workdir, ["ingest", "transform", "train"], log=lambda *a: None)
    metrics = common.read_manifest(workdir, "train")["metrics"]
    assert metrics["stopped_by"] == "stop_at_step" and metrics["steps"] == 12
    assert np.isfinite(metrics["best_val_nats_per_char"])      # the last step is evaluated
    assert os.path.exists(os.path.join(workdir, "train", "best.weights.h5"))
    schedule = training.learning_rate(config)
    lr = dict(logged(workdir, "learning_rate"))
    assert sorted(lr) == list(range(1, 13))
    # the optimizer logs the rate of the step it is about to take
    assert np.isclose(lr[12], float(schedule(12)), rtol=1e-5)
    assert not np.isclose(lr[12], float(training.learning_rate(
        tiny(**{"train.steps": 12, "train.warmup_steps": 2}))(12)), rtol=1e-3)


def test_budget_schedule_runs_by_steps_or_clock_whichever_is_further():
    """BudgetSchedule gives base(max(step, progress * steps)); tick_budget sets progress
    to the fraction of the budget spent, at most 1."""
    base = tf.keras.optimizers.schedules.CosineDecay(1.0, 100, alpha=0.05)
    sched = training.BudgetSchedule(base, 100)
    assert np.isclose(float(sched(30)), float(base(30)))              # progress 0
    sched.progress.assign(0.5)
    assert np.isclose(float(sched(10)), float(base(50)))              # the clock leads
    assert np.isclose(float(sched(80)), float(base(80)))              # the steps lead
    training.tick_budget(sched, time.time() - 30.0, 10.0)              # over budget
    assert float(sched.progress) == 1.0 and np.isclose(float(sched(0)), 0.05)
    clone = training.BudgetSchedule.from_config(sched.get_config())
    assert np.isclose(float(clone(40)), float(base(40)))


@pytest.mark.parametrize("schedule", ["steps", "budget"])
def test_budget_schedule_decays_by_the_end_of_the_time_budget(schedule, tmp_path):
    """With far more steps than the budget allows, 'budget' has decayed the learning rate
    by the end of the budget; 'steps' is still near its peak."""
    workdir = str(tmp_path / "run")
    config = tiny(**{"train.steps": 100000, "train.time_budget_s": 8.0,
                     "train.warmup_steps": 10, "train.log_every": 5,
                     "train.schedule": schedule, "train.eval_every": 100000,
                     "train.checkpoint_every": 100000, "train.sample_every": 100000,
                     "train.histogram_every": 100000})
    run_pipeline(config, workdir, ["ingest", "transform", "train"], log=lambda *a: None)
    assert common.read_manifest(workdir, "train")["metrics"]["stopped_by"] == "time_budget"
    lr = logged(workdir, "learning_rate")
    peak = config.train.learning_rate
    if schedule == "budget":
        assert lr[-1][1] < 0.5 * peak and all(b <= a + 1e-9 for (_, a), (_, b) in
                                               zip(lr[1:], lr[2:]))  # decays after warm-up
    else:
        assert lr[-1][1] > 0.99 * peak


@pytest.mark.parametrize("overrides,message", [
    ({"train.schedule": "clock"}, "train.schedule='clock' is not known"),
    ({"train.schedule": "budget", "train.time_budget_s": 0.0}, "set train.time_budget_s"),
])
def test_bad_schedule_settings_are_user_errors(overrides, message, tmp_path):
    with pytest.raises(common.UserError, match=message):
        run_pipeline(tiny(**overrides), str(tmp_path / "w"), ["ingest", "transform", "train"],
                     log=lambda *a: None)


def test_corrupt_checkpoint_falls_back_to_the_previous(tmp_path):
    workdir = str(tmp_path / "run")
    config = tiny(**{"train.steps": 20, "train.interrupt_after_steps": 20})
    run_pipeline(config, workdir, ["ingest", "transform", "train"], log=lambda *a: None)
    ckpt_dir = os.path.join(workdir, "train", "checkpoints")
    latest = tf.train.latest_checkpoint(ckpt_dir)
    for name in os.listdir(ckpt_dir):
        if name.startswith(os.path.basename(latest) + ".data"):
            with open(os.path.join(ckpt_dir, name), "r+b") as f:
                f.truncate(16)
    messages = []
    run_pipeline(tiny(**{"train.steps": 25}), workdir, ["train"], resume=True,
                 log=messages.append)
    text = "\n".join(messages)
    assert "is corrupt" in text and "resumed from" in text and "ckpt-10" in text, text
    # train.bptt_view_rows=0 (the tiny config's) logs no BPTT view; validation ran
    assert logged(workdir, "loss", "validation") and not logged(workdir,
                                                                 "gradient_reach_steps")


def test_divergence_stops_with_a_clear_error(monkeypatch, tmp_path):
    """The guard stops a run whose loss becomes NaN. A NaN learning rate is refused by the
    config check before any stage (tests/test_blessing.py); it is let through here only to
    make the loss NaN."""
    from pipelines import config_check
    monkeypatch.setattr(config_check, "check", lambda config: None)
    config = tiny(**{"train.learning_rate": float("nan")})
    with pytest.raises(training.Diverged, match="loss became nan at step 2; stopped before any checkpoint was saved"):
        run_pipeline(config, str(tmp_path / "nan"), ["ingest", "transform", "train"],
                     log=lambda *a: None)


def test_workdir_of_another_config_is_refused_unless_overwrite(tiny_run, tmp_path):
    workdir = str(tmp_path / "w")
    run_pipeline(tiny(), workdir, ["ingest"], log=lambda *a: None)
    with pytest.raises(common.UserError, match="another config.*model.units.*--overwrite"):
        run_pipeline(tiny(**{"model.units": 16}), workdir, ["ingest"], log=lambda *a: None)
    run_pipeline(tiny(**{"model.units": 16}), workdir, ["ingest"], overwrite=True,
                 log=lambda *a: None)


def test_offline_catalog_data_set_without_manual_dir(monkeypatch, tmp_path):
    monkeypatch.setattr(ingest, "_online", lambda *a, **k: False)
    with pytest.raises(common.UserError, match="offline.*manual_dir"):
        run_pipeline(tiny(**{"data.dataset": "tiny_shakespeare"}), str(tmp_path),
                     ["ingest"], log=lambda *a: None)


class EmptyValidationText(tfds.core.GeneratorBasedBuilder):
    """A local builder whose validation split is empty, for the empty-split error."""
    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({"text": tfds.features.Text()}))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(3), "validation": self._generate_examples(0),
                "test": self._generate_examples(2)}

    def _generate_examples(self, n):
        for i in range(n):
            yield i, {"text": f"document {i}"}


def test_empty_split_is_a_user_error(tmp_path):
    config = tiny(**{"data.dataset": "empty_validation_text"})
    with pytest.raises(common.UserError, match="split 'validation'.*empty"):
        run_pipeline(config, str(tmp_path), ["ingest"], log=lambda *a: None)


@pytest.mark.parametrize("args,message", [
    (["--nope=1"], "Unknown command line flag 'nope'"),
    (["--config.train.nope=1"], "nope"),
    (["--config.train.steps=abc"], "abc"),
    (["--config=configs/missing.py"], "missing.py"),
    (["--config.data.dataset=no_such_dataset"], "unknown data set 'no_such_dataset'"),
    (["--stages=ingest,fly"], "unknown stage"),
])
def test_cli_bad_input_is_one_line_without_traceback(args, message, tmp_path):
    out = subprocess.run([sys.executable, "-m", "pipelines.train",
                          "--config=configs/default.py:tiny",
                          f"--workdir={tmp_path / 'w'}"] + args,
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    errors = [line for line in out.stderr.splitlines()
              if line.startswith(("error:", "FATAL Flags parsing error"))]
    assert len(errors) == 1 and message in errors[0], out.stderr[-3000:]


def test_cli_config_conflict_is_one_line_before_any_stage(tmp_path):
    """A task's own config check (here: unknown-word replacement without attention)
    reaches the CLI as one line, before anything is ingested or trained."""
    out = subprocess.run([sys.executable, "-m", "pipelines.train",
                          "--config=configs/translation.py:tiny",
                          "--config.model.attention=False", f"--workdir={tmp_path / 'w'}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr[-3000:]
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "eval.replace_unk=True copies" in errors[0]
    assert not (tmp_path / "w").exists()


@pytest.mark.data("tiny_shakespeare")
def test_tiny_shakespeare_offline_through_the_tfds_catalog_builder(tmp_path):
    from configs import char_lm_shakespeare
    config = char_lm_shakespeare.get_config("tiny")
    workdir = str(tmp_path)
    results = run_pipeline(config, workdir, ["ingest", "transform", "train", "evaluate",
                                             "export"], log=lambda *a: None)
    assert common.read_manifest(workdir, "ingest")["metrics"]["examples"] == {
        "train": 1, "validation": 1, "test": 1}
    vocab = vocab_of(workdir)
    assert vocab[0] == "[UNK]" and 40 < len(vocab) <= 66     # a 20k-char slice of 65 chars
    assert os.path.isdir(os.path.join(results["export"], "saved_model"))


def test_readme_serving_example_runs_on_an_exported_model(tiny_run):
    import re
    workdir, _, _ = tiny_run
    text = open(os.path.join(ROOT, "README.md")).read()
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S)
                 if "runs/default/export/saved_model" in b)
    code = block.replace("runs/default/export/saved_model", export.export_dir(workdir))
    code = code.replace('["text"]', '["text"]; print("ok")', 1)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code], cwd="/", env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
