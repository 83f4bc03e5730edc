"""The served sampling loop (`rnn_tf.served_sampling`): a graph's `Generator.sample`, with
the length a run-time tensor, several steps per trip of its loop."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from rnn_tf import models, served_sampling
from rnn_tf.sampling import Generator

RNG = np.random.default_rng(0)

MODELS = {
    "vanilla_2_layers": lambda: models.many_to_many(9, 9, units=16, num_layers=2),
    "vanilla_1_layer": lambda: models.many_to_many(9, 9, units=16),
    "gru_residual": lambda: models.many_to_many(9, 9, units=16, cell="gru", num_layers=2,
                                                residual=True),
    "embedding_lm": lambda: models.LanguageModel(9, units=16, num_layers=2,
                                                 embedding_dim=8),
}


def _gen(kind, seed=1):
    keras.utils.set_random_seed(seed)
    model = MODELS[kind]()
    model(tf.zeros([1, 2], tf.int32))
    return Generator(model)


def _served(gen, top_k=0, stop_id=-1):
    """gen.sample in a graph whose length, temperature and seed are run-time inputs."""
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32),
                                  tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float32),
                                  tf.TensorSpec([], tf.int32)])
    def served(prime, length, temperature, seed):
        return gen.sample(prime, length, temperature, seed, top_k=top_k, stop_id=stop_id)
    return lambda prime, length, temperature=0.0, seed=0: served(
        tf.constant(prime, tf.int32), tf.constant(length), tf.constant(temperature, tf.float32),
        tf.constant(seed))


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_greedy_sample_is_generate_for_every_length(kind):
    """At temperature 0 the served loop gives the XLA loop's ids, whatever the length's
    remainder modulo UNROLL, and its prime loop gives the layers' unroll's state."""
    gen = _gen(kind)
    prime = RNG.integers(1, 9, (2, 5)).astype(np.int32)
    served = _served(gen)
    for length in [1, served_sampling.UNROLL, 2 * served_sampling.UNROLL + 3]:
        np.testing.assert_array_equal(served(prime, length),
                                      gen.generate(prime, length, temperature=0.0))
    top, states = served_sampling.prime(gen, tf.constant(prime))
    want_top, want_states = gen._run_prime(tf.constant(prime))
    np.testing.assert_allclose(top, want_top, atol=1e-5)
    for got, want in zip(tf.nest.flatten(states), tf.nest.flatten(want_states)):
        np.testing.assert_allclose(got, want, atol=1e-5)
    assert served(prime, 0).shape == (2, 0)


def test_sampled_tokens_follow_the_softmax_of_the_model():
    """Over 4,000 independent rows, the served loop's first and a later token (drawn
    inside a trip, not at its start) each follow softmax(logits / T) within 4 standard
    errors."""
    gen = _gen("vanilla_2_layers")
    n, temperature = 4000, 0.7
    prime = np.tile(np.array([[4, 1, 7]], np.int32), (n, 1))
    out = _served(gen)(prime, 3, temperature, seed=11).numpy()
    pairs, counts = np.unique(out[:, :2], axis=0, return_counts=True)
    for step, history in [(0, np.zeros([0], np.int32)), (2, pairs[np.argmax(counts)])]:
        rows = np.all(out[:, :step] == history, axis=1)        # rows with this history
        logits = _logits(gen, np.concatenate([prime[:1], [history]], 1)) / temperature
        p = np.exp(logits - logits.max())
        p /= p.sum()
        freq = np.bincount(out[rows, step], minlength=p.size) / rows.sum()
        se = np.sqrt(p * (1 - p) / rows.sum())
        np.testing.assert_array_less(np.abs(freq - p), 4 * se + 2e-3)


def _logits(gen, seq):
    """The model's next-token logits <float>[C] after ids seq <int32>[1, T]."""
    top, _ = gen._run_prime(tf.constant(seq))
    return gen.head(top).numpy()[0]


def test_seed_reproduces_and_rows_are_independent():
    gen = _gen("vanilla_1_layer")
    served = _served(gen)
    prime = [[1, 2, 3], [1, 2, 3]]
    a, b = served(prime, 30, 1.0, seed=5), served(prime, 30, 1.0, seed=5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, served(prime, 30, 1.0, seed=6))
    assert not np.array_equal(a[0], a[1])


@pytest.mark.parametrize("kind", ["vanilla_1_layer", "gru_residual"])
def test_stop_id_and_top_k_match_generate(kind):
    """A stop id ends a row and the loop once every row has drawn it (the steps run are
    those of the XLA loop); top_k=1 is greedy at any temperature."""
    gen = _gen(kind)
    prime = np.array([[2, 3], [5, 1]], np.int32)
    greedy = gen.generate(prime, 20, temperature=0.0).numpy()
    for stop in {int(greedy[0, 2]), int(greedy[1, 9]), int(greedy[0, 19])}:
        want = gen.generate(prime, 20, temperature=0.0, stop_id=stop).numpy()
        got = _served(gen, stop_id=stop)(prime, 20).numpy()
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(_served(gen, top_k=1)(prime, 20, 1.5, seed=9), greedy)


def test_one_to_many_served_loop_feeds_samples_back():
    """A sigmoid head (music): the float prime x<1> and multi-hot samples fed back give
    `generate_from`'s roll at temperature 0, and 0/1 samples at temperature 1."""
    keras.utils.set_random_seed(2)
    gen = Generator(models.one_to_many(6, 6, units=8))
    x0 = tf.constant(RNG.random((2, 6)) > 0.5, tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float32)])
    def served(length, temperature):
        return gen.sample(x0[:, None, :], length, temperature, tf.constant(3))
    np.testing.assert_array_equal(served(tf.constant(7), tf.constant(0.0)),
                                  gen.generate_from(x0, 7, temperature=0.0))
    roll = served(tf.constant(9), tf.constant(1.0)).numpy()
    assert roll.shape == (2, 9, 6) and set(np.unique(roll)) <= {0.0, 1.0}


def test_negative_length_is_an_error():
    with pytest.raises(tf.errors.InvalidArgumentError, match="length must be >= 0"):
        _served(_gen("vanilla_1_layer"))([[1]], -1)
