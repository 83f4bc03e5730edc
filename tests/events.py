"""Reads TensorBoard scalars back from a pipeline run's event files."""

import os

import tensorflow as tf


def logged(workdir, tag, split="train"):
    """[(step, value)] of scalar `tag` in `<workdir>/train/logs/<split>`, by step, as
    TensorBoard shows them: a START marker at step S (a resumed run's) drops what the
    files before it logged at steps >= S."""
    path = os.path.join(workdir, "train", "logs", split)
    values = []
    for name in sorted(os.listdir(path)):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(path, name)):
            if event.HasField("session_log") and event.session_log.status == \
                    event.session_log.START:
                values = [(s, v) for s, v in values if s < event.step]
            values += [(event.step, float(tf.make_ndarray(v.tensor)))
                       for v in event.summary.value if v.tag == tag]
    return sorted(values)


def _tensor_events(workdir, tag, split):
    path = os.path.join(workdir, "train", "logs", split)
    for name in sorted(os.listdir(path)):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(path, name)):
            for v in event.summary.value:
                if v.tag == tag:
                    yield event.step, tf.make_ndarray(v.tensor)


def text_logged(workdir, tag, split="train"):
    """[str] of text summary `tag`, in the order logged."""
    return [value.item().decode("utf-8") for _, value in _tensor_events(workdir, tag, split)]


def image_logged(workdir, tag, split="train"):
    """[(step, <uint8>[H, W, C])] of image summary `tag` (decoded PNGs)."""
    return [(step, tf.io.decode_png(value[2]).numpy())
            for step, value in _tensor_events(workdir, tag, split)]
