"""The `keras_arch` config variants: each task's Keras baseline model (the results
table's Keras column), built from rnn_tf. The same architecture means the same
parameters: each variant's model has exactly the parameter count of the Keras model
written out here as benchmarks/keras_baselines.py builds it."""

import importlib

import keras
import numpy as np
import pytest

from pipelines import tasks

V, VT, CHARS, TAGS, PITCHES = 500, 300, 60, 17, 50


def _ours(name):
    config = importlib.import_module(f"configs.{name}").get_config("keras_arch")
    if config.task == "char_lm":
        task = tasks.get(config)
        task.meta = {"vocab": [f"c{i}" for i in range(CHARS)]}
        return config, task.build_model()
    task = tasks.get(config)
    task.meta = {"vocab": [f"w{i}" for i in range(V)], "labels": ["negative", "positive"],
                 "chars": [f"c{i}" for i in range(CHARS)],
                 "tags": [f"t{i}" for i in range(TAGS)],
                 "source_vocab": [f"s{i}" for i in range(V)],
                 "target_vocab": [f"t{i}" for i in range(VT)],
                 "lowest_pitch": 30, "highest_pitch": 30 + PITCHES - 1}
    return config, task.build_model()


def _count(model):
    return int(sum(np.prod(w.shape) for w in model.weights))


def _seq2seq_keras(units, embedding_dim):
    src, tgt = keras.Input((None,), dtype="int32"), keras.Input((None,), dtype="int32")
    state = keras.layers.GRU(units, return_state=True)(
        keras.layers.Embedding(V, embedding_dim, mask_zero=True)(src))[1:]
    seq = keras.layers.GRU(units, return_sequences=True, return_state=True)(
        keras.layers.Embedding(VT, embedding_dim)(tgt), initial_state=state)[0]
    return keras.Model([src, tgt], keras.layers.Dense(VT)(seq))


def _char_lm_keras(layer):
    return keras.Sequential([keras.Input((None,), dtype="int32"),
                             keras.layers.Embedding(CHARS, 64),
                             layer(512, return_sequences=True), keras.layers.Dense(CHARS)])


KERAS = {
    "char_lm_shakespeare": lambda: _char_lm_keras(keras.layers.SimpleRNN),
    "char_lm_shakespeare_gru": lambda: _char_lm_keras(keras.layers.GRU),
    "char_lm_shakespeare_deep": lambda: _char_lm_keras(keras.layers.GRU),
    "sentiment": lambda: keras.Sequential([
        keras.Input((None,), dtype="int32"), keras.layers.Embedding(V, 64, mask_zero=True),
        keras.layers.Bidirectional(keras.layers.GRU(64)),
        keras.layers.Dense(1, activation="sigmoid")]),
    "upos": lambda: keras.Sequential([
        keras.Input((None,), dtype="int32"), keras.layers.Embedding(V, 100, mask_zero=True),
        keras.layers.Bidirectional(keras.layers.LSTM(128, return_sequences=True)),
        keras.layers.Dense(TAGS)]),
    "dates": lambda: _seq2seq_keras(128, 16),
    "translation": lambda: _seq2seq_keras(256, 128),
    "bach": lambda: keras.Sequential([
        keras.Input((None, PITCHES)), keras.layers.GRU(128, return_sequences=True),
        keras.layers.Dense(PITCHES)]),
}


@pytest.mark.parametrize("name", sorted(KERAS))
def test_keras_arch_has_the_keras_models_parameters(name):
    config, model = _ours(name)
    assert _count(model) == _count(KERAS[name]()), config.model.keras_arch


def test_keras_arch_names_the_baseline_of_the_results_table():
    from benchmarks import results_table
    import json
    with open(results_table.RESULTS) as f:
        results = json.load(f)
    for name, task in (("char_lm_shakespeare", "char_lm_vanilla"),
                       ("char_lm_shakespeare_gru", "char_lm_gru"),
                       ("char_lm_shakespeare_deep", "char_lm_deep"),
                       ("sentiment", "sentiment"), ("upos", "upos"), ("dates", "dates"),
                       ("translation", "translation"), ("bach", "bach")):
        config = importlib.import_module(f"configs.{name}").get_config("keras_arch")
        assert config.model.keras_arch in [b["model"].split(",  ")[0]
                                           for b in results[task]["baselines"]], name
