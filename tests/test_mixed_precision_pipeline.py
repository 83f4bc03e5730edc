"""model.dtype_policy='mixed_bfloat16' through the whole pipeline, for every task: the
layers compute in bfloat16 while the variables, checkpoints and best weights stay float32,
the loss and evaluation are finite, and the SavedModel's signatures answer in float32
(Keras's mixed-precision rule for a model's outputs), with no bfloat16 variable in it."""

import importlib
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from pipelines import common, export, tasks
from pipelines.tasks import base
from pipelines.train import STAGES, run_pipeline
from rnn_tf import RNN

# config module -> the metric its evaluate stage reports
CONFIGS = {"default": "nats_per_char", "sentiment": "accuracy", "upos": "accuracy",
           "dates": "exact_match", "translation": "chrf", "bach": "nats_per_step"}


def _rnn_layers(model):
    found = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, RNN):
            found.append(layer)
    return found


@pytest.mark.parametrize("module", sorted(CONFIGS))
def test_mixed_bfloat16_trains_evaluates_and_exports_float32(module, tmp_path):
    config = importlib.import_module(f"configs.{module}").get_config("tiny")
    config.model.dtype_policy = "mixed_bfloat16"
    workdir = str(tmp_path / "run")
    run_pipeline(config, workdir, STAGES, log=lambda *a: None)
    assert keras.config.dtype_policy().name == "float32"     # put back after the build

    metrics = common.read_json(os.path.join(workdir, "evaluate", "metrics.json"))
    assert np.isfinite(metrics["validation"][CONFIGS[module]])

    task = tasks.get(config)
    model = base.load_best(task, workdir)
    layers = _rnn_layers(model)
    assert layers and all(l.compute_dtype == "bfloat16" for l in layers), module
    assert {v.dtype for v in model.weights} <= {"float32", "int32", "int64"}, module

    saved = export.export_dir(workdir)
    dtypes = tf.train.load_checkpoint(os.path.join(saved, "variables", "variables")
                                      ).get_variable_to_dtype_map()
    assert tf.float32 in dtypes.values() and tf.bfloat16 not in dtypes.values(), module
    loaded = tf.saved_model.load(saved)
    for name, fn in loaded.signatures.items():
        for key, spec in fn.structured_outputs.items():
            assert spec.dtype not in (tf.bfloat16, tf.float16), (module, name, key)
