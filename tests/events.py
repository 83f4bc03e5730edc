"""Reads TensorBoard scalars back from a pipeline run's event files."""

import os

import tensorflow as tf


def logged(workdir, tag, split="train"):
    """[(step, value)] of scalar `tag` in `<workdir>/train/logs/<split>`, by step, as
    TensorBoard shows them: a SessionLog.START at step S (a resumed run's) drops what the
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
