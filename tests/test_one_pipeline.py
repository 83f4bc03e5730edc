"""One pipeline for every task: the stages are generic modules calling the Task hooks,
one training loop, public library calls only, caching that follows the code, and a
re-run that pushes nothing new."""

import ast
import glob
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from configs import default
from pipelines import common, tasks
from pipelines.tasks import base
from pipelines.train import STAGES, run_pipeline
from rnn_tf import models, seq2seq
from rnn_tf.sampling import Generator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python_files(*folders):
    for folder in folders:
        yield from glob.glob(os.path.join(ROOT, folder, "**", "*.py"), recursive=True)


def test_every_task_is_a_task_and_train_py_names_none():
    import importlib
    seen = set()
    for name in ("default", "sentiment", "upos", "dates", "translation", "bach"):
        config = importlib.import_module(f"configs.{name}").get_config("tiny")
        assert isinstance(tasks.get(config), base.Task), name
        seen.add(config.task)
    assert seen == set(tasks.TASKS)
    tree = ast.parse(open(os.path.join(ROOT, "pipelines", "train.py")).read())
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert not strings & set(tasks.TASKS), "train.py branches on a task name"
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert "base" not in names and "lm" not in names


def test_no_file_outside_rnn_tf_calls_a_private_name_of_it():
    """`obj._name` on anything but self/cls, or `from rnn_tf... import _name`, outside
    rnn_tf/ (the pipelines, benchmarks and configs use the public API only)."""
    offences = []
    for path in _python_files("pipelines", "benchmarks", "configs"):
        tree = ast.parse(open(path).read())
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                    and not node.attr.startswith("__")
                    and not (isinstance(node.value, ast.Name)
                             and node.value.id in ("self", "cls"))):
                offences.append(f"{os.path.relpath(path, ROOT)}:{node.lineno} .{node.attr}")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rnn_tf"):
                offences += [f"{os.path.relpath(path, ROOT)}:{node.lineno} {a.name}"
                             for a in node.names if a.name.startswith("_")]
    assert not offences, offences


def test_every_source_file_is_under_400_lines():
    long = {os.path.relpath(p, ROOT): n for p in _python_files("rnn_tf", "pipelines")
            if (n := len(open(p).read().splitlines())) > 400}
    assert not long, long


# ------------------------------------------------------------------ public entry points
def test_generator_sample_in_a_graph_is_generate():
    keras.utils.set_random_seed(1)
    gen = Generator(models.many_to_many(vocab_size=9, num_classes=9, units=16,
                                        num_layers=2))
    prime = tf.constant([[1, 2, 3], [4, 5, 6]])

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32)])
    def served(length):
        return gen.sample(prime, length, tf.constant(0.0), tf.constant(3))
    np.testing.assert_array_equal(served(tf.constant(12)),
                                  gen.generate(prime, 12, temperature=0.0))
    assert served(tf.constant(0)).shape == (2, 0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="length must be >= 0"):
        served(tf.constant(-1))


@pytest.mark.parametrize("attention", [True, False])
def test_encoder_decoder_decode_is_greedy_and_beam(attention):
    keras.utils.set_random_seed(2)
    model = seq2seq.encoder_decoder(12, 12, units=16, cell="gru", attention=attention)
    source = tf.constant([[4, 5, 6, 0], [7, 8, 0, 0]])
    model((source, tf.ones([2, 3], tf.int32)))
    np.testing.assert_array_equal(model.decode(source, 6), model.greedy_decode(source, 6))
    np.testing.assert_array_equal(model.decode(source, 6, method="beam", beam_width=3),
                                  model.beam_search(source, 6, beam_width=3))

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32),
                                  tf.TensorSpec([], tf.int32)])
    def served(source, length):
        return model.decode(source, length, method="beam", beam_width=2)
    np.testing.assert_array_equal(served(source, tf.constant(5)),
                                  model.beam_search(source, 5, beam_width=2))
    if attention:
        ids, aligned = model.decode(source, 6, return_alignment=True)
        assert aligned.shape == ids.shape == (2, 6)
    with pytest.raises(ValueError, match="method='nucleus' is not known"):
        model.decode(source, 6, method="nucleus")


# ------------------------------------------------------------------ caching, re-runs
@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("finished"))
    run_pipeline(default.get_config("tiny"), workdir, list(STAGES), log=lambda *a: None)
    return workdir


def _versions(workdir):
    d = os.path.join(workdir, "serving", "pydoc_char_lm")
    return sorted(v for v in os.listdir(d) if v.isdigit())


def test_rerun_of_a_finished_pipeline_skips_every_stage_and_pushes_nothing(finished):
    messages = []
    results = run_pipeline(default.get_config("tiny"), finished, list(STAGES),
                           log=messages.append)
    for stage in ("ingest", "transform", "train", "evaluate", "export"):
        assert (f"  skipped: {os.path.join(finished, stage)} was made from the same inputs "
                "by the same code") in messages
    assert _versions(finished) == ["1"]
    assert results["push"] == os.path.join(finished, "serving", "pydoc_char_lm", "1")
    assert f"  not pushed again: {results['push']} holds this model already" in messages


def test_resume_of_a_finished_run_pushes_nothing_new(finished):
    messages = []
    run_pipeline(default.get_config("tiny"), finished, list(STAGES), resume=True,
                 log=messages.append)
    assert any(m.startswith("resumed from") for m in messages), messages
    assert _versions(finished) == ["1"]
    assert any(m.startswith("  not pushed again:") for m in messages), messages


def test_changed_code_rebuilds_the_artifact(finished, monkeypatch):
    before = common.read_manifest(finished, "ingest")
    messages = []
    monkeypatch.setattr(common, "code_fingerprint", lambda: "other-code")
    run_pipeline(default.get_config("tiny"), finished, ["ingest"], log=messages.append)
    after = common.read_manifest(finished, "ingest")
    assert not any("skipped" in m for m in messages), messages
    assert after["finished"] != before["finished"]
    assert after["code_fingerprint"] == "other-code"


def test_the_weight_average_is_keras_optimizer_ema_but_for_its_start():
    """training.update_average against Keras's use_ema/ema_momentum on the same updates:
    the same recurrence, Keras's started at w1 instead of w0, so the two differ by exactly
    decay^N (w1 - w0) after N updates."""
    import keras
    import numpy as np
    import tensorflow as tf
    from pipelines import training
    decay, steps = 0.9, 12
    keras.utils.set_random_seed(0)
    w = tf.Variable(np.random.default_rng(0).normal(size=(4, 3)).astype("float32"))
    w0 = w.numpy()
    optimizer = keras.optimizers.Adam(0.1, use_ema=True, ema_momentum=decay)
    optimizer.build([w])
    ours = [tf.Variable(w)]
    x = tf.constant(np.random.default_rng(1).normal(size=(8, 4)).astype("float32"))
    for step in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(x @ w - 1.0))
        optimizer.apply_gradients([(tape.gradient(loss, w), w)])
        if step == 0:
            w1 = w.numpy()
        training.update_average(ours, [w], decay)
    optimizer.finalize_variable_values([w])          # Keras's average, written into w
    keras_average = w.numpy()
    np.testing.assert_allclose(keras_average, ours[0].numpy() + decay ** steps * (w1 - w0),
                               rtol=1e-5, atol=1e-6)
    assert not np.allclose(keras_average, ours[0].numpy(), rtol=1e-5, atol=1e-6)
