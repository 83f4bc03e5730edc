"""What every exported signature checks of its inputs, so that a serving client's mistake
is one clear `InvalidArgumentError` and never a crash, an abort or a silently wrong answer.

A loaded SavedModel does not enforce the shapes its signatures declare (a `[2]` tensor fed
where `[]` is declared runs), so `signature` declares each input with an unknown shape and
checks its shape at run time, naming the input. The generators also check:

    length        0 <= length <= MAX_LENGTH (the cap: 2**31 - 1 would abort the process
                  allocating the output)
    temperature   finite and >= 0 (0 = argmax)
    prime         bytes that are not UTF-8 are replaced by U+FFFD before anything else
                  reads the prime (they are never echoed back)
"""

import inspect

import tensorflow as tf

MAX_LENGTH = 100_000       # the most steps one `generate` call samples


def signature(*specs):
    """Decorator: `tf.function` over `fn(*inputs)` whose inputs (TensorSpecs with names)
    are declared with unknown shapes and checked at run time against each spec's shape
    (`tf.ensure_shape`: "Shape of tensor prime [2] is not compatible with expected shape
    []")."""
    def wrap(fn):
        def checked(*args):
            return fn(*[tf.ensure_shape(x, s.shape) for x, s in zip(args, specs)])
        checked.__signature__ = inspect.Signature(
            [inspect.Parameter(s.name, inspect.Parameter.POSITIONAL_OR_KEYWORD)
             for s in specs])
        checked.__name__ = fn.__name__
        return tf.function(checked, input_signature=[
            tf.TensorSpec(None, s.dtype, name=s.name) for s in specs])
    return wrap


def check_generation(length, temperature):
    """Asserts 0 <= length <= MAX_LENGTH and a finite temperature >= 0; returns the
    control dependencies (ops) a caller puts before sampling."""
    return [
        tf.debugging.assert_greater_equal(
            length, 0, message="length must be >= 0 (the number of steps to generate)"),
        tf.debugging.assert_less_equal(
            length, MAX_LENGTH,
            message=f"length must be <= {MAX_LENGTH} (the cap of one generate call); "
                    "call generate again with the text so far as the prime"),
        tf.debugging.Assert(
            tf.logical_and(tf.math.is_finite(temperature), temperature >= 0.0),
            ["temperature must be a finite number >= 0 (0 = argmax), got", temperature]),
    ]


def valid_utf8(strings):
    """<string>[...] -> the same, each byte sequence that is not UTF-8 replaced by U+FFFD."""
    return tf.strings.unicode_transcode(strings, "UTF-8", "UTF-8", errors="replace",
                                        replacement_char=0xFFFD)
