"""Reads TensorBoard scalars back from a pipeline run's event files."""

import os

import tensorflow as tf


def logged(workdir, tag, split="train"):
    """[(step, value)] of scalar `tag` in `<workdir>/train/logs/<split>`, by step."""
    path = os.path.join(workdir, "train", "logs", split)
    values = []
    for name in sorted(os.listdir(path)):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(path, name)):
            values += [(event.step, float(tf.make_ndarray(v.tensor)))
                       for v in event.summary.value if v.tag == tag]
    return sorted(values)
