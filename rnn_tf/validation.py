"""Checks of an rnn_tf.RNN call's inputs: each mistake a ValueError that names the value
and the fix."""

import tensorflow as tf


def check_input(layer, rank, dtype, width):
    """Raises a ValueError naming the fix when `layer` (an rnn_tf.RNN) cannot take inputs
    of this rank, dtype and feature width."""
    ids = dtype is not None and dtype.is_integer
    if ids and rank == 2:
        if layer.input_dim is None:
            raise ValueError(
                "Integer inputs are token ids <int32>[batch, time], and the layer needs "
                "the vocabulary size to hold W_ax: pass input_dim=<vocabulary size>.")
        if getattr(layer.cell, "stacked", False):
            raise ValueError(
                "stacked=True computes [a<t-1>; x<t>] W_a from float inputs; it cannot "
                "take token ids. Pass one-hot floats or use stacked=False.")
        return
    if rank == 3 and not ids:
        if (layer.input_dim is not None and width is not None
                and width != layer.input_dim):
            raise ValueError(
                f"inputs have {width} features but input_dim={layer.input_dim}. Pass "
                f"<float>[batch, time, {layer.input_dim}] or set input_dim={width}.")
        return
    kind = "" if dtype is None else f" {dtype.name}"
    raise ValueError(
        "RNN expects <float>[batch, time, features] or <int32>[batch, time] token ids "
        f"(with input_dim); received rank {rank}{kind} input. For one step of floats "
        "add a time axis (x[:, None, :]); for ids pass input_dim=<vocabulary size>.")

def validate(layer, inputs, mask, lengths, initial_state):
    """Checks a call's inputs <[batch, time, ...]>, mask <bool>[batch, time], lengths
    <int32>[batch] and initial state (<float>[batch, units] each) against `layer`."""
    check_input(layer, inputs.shape.rank, inputs.dtype, inputs.shape[-1])
    batch_time = inputs.shape[:2]
    if mask is not None and not mask.shape.is_compatible_with(batch_time):
        raise ValueError(
            f"mask must be <bool>[batch, time] = {batch_time.as_list()}; received shape "
            f"{mask.shape.as_list()}. Pass one flag per input step.")
    if lengths is not None and not lengths.shape.is_compatible_with(batch_time[:1]):
        raise ValueError(
            f"lengths must be <int32>[batch] = {batch_time[:1].as_list()}; received "
            f"shape {lengths.shape.as_list()}. Pass one valid length per example.")
    for state in initial_state or []:
        if not state.shape.is_compatible_with([batch_time[0], layer.units]):
            raise ValueError(
                f"initial_state must be <float>[batch, units] = [{batch_time[0]}, "
                f"{layer.units}] per cell state; received shape {state.shape.as_list()}.")
    if tf.executing_eagerly():   # value checks need values; graphs get them in the op
        if inputs.dtype.is_integer and tf.size(inputs) > 0:
            lo, hi = int(tf.reduce_min(inputs)), int(tf.reduce_max(inputs))
            if lo < 0 or hi >= layer.input_dim:
                raise ValueError(
                    f"token ids must lie in [0, input_dim={layer.input_dim}); received "
                    f"ids from {lo} to {hi}. Raise input_dim to the vocabulary size or "
                    "map unknown tokens to an [UNK] id.")
        if lengths is not None and tf.size(lengths) > 0:
            T = inputs.shape[1]
            lo, hi = int(tf.reduce_min(lengths)), int(tf.reduce_max(lengths))
            if lo < 0 or (T is not None and hi > T):
                raise ValueError(
                    f"lengths must lie in [0, time={T}]; received lengths from {lo} to "
                    f"{hi}. Pass the number of valid steps of each example.")
