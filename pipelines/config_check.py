"""Config values and directories checked before any stage runs (and before TensorFlow
starts): each mistake is one UserError line that names the field, its value and the fix.

The rules cover the fields every task shares; a field absent from a config is not checked.
"""

import math
import os
import tempfile

from pipelines import common

STRATEGIES = ("default", "one_device", "mirrored", "multi_worker", "tpu")
# field: (test, what the value must be, an example of a good value)
_POSITIVE_INT = (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
                 "a whole number >= 1")
_COUNT = (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
          "a whole number >= 0")


def _finite(low, high=math.inf, low_open=False):
    """A test: v is a finite number above `low` (or at it, unless low_open), below `high`."""
    def test(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return False
        return (v > low if low_open else v >= low) and v < high
    return test


RULES = {
    "train.steps": (*_POSITIVE_INT, "1000"),
    "train.batch_size": (*_POSITIVE_INT, "32"),
    "train.seq_len": (*_POSITIVE_INT, "100"),
    "train.log_every": (*_POSITIVE_INT, "50"),
    "train.eval_every": (*_POSITIVE_INT, "200"),
    "train.checkpoint_every": (*_POSITIVE_INT, "200"),
    "train.keep_checkpoints": (*_POSITIVE_INT, "3"),
    "train.histogram_every": (*_POSITIVE_INT, "500"),
    "train.sample_every": (*_POSITIVE_INT, "500"),
    "train.sample_length": (*_COUNT, "200"),
    "train.bptt_view_rows": (*_COUNT, "8 (0 = off)"),
    "train.warmup_steps": (*_COUNT, "100"),
    "train.early_stopping_patience": (*_COUNT, "5 (0 = off)"),
    "train.interrupt_after_steps": (*_COUNT, "0 (off)"),
    "train.stop_at_step": (*_COUNT, "7000 (0 = off)"),
    "train.learning_rate": (_finite(0.0, low_open=True), "a finite number > 0", "3e-3"),
    "train.clip_norm": (_finite(0.0, low_open=True), "a finite number > 0", "5.0"),
    "train.max_loss": (_finite(0.0, low_open=True), "a finite number > 0", "1e4"),
    "train.time_budget_s": (_finite(0.0), "a finite number of seconds >= 0",
                            "150 (0 = no limit)"),
    "train.replicas": (*_POSITIVE_INT, "2"),
    "train.strategy": (lambda v: v in STRATEGIES, f"one of {', '.join(STRATEGIES)}",
                       "mirrored"),
    "model.units": (*_POSITIVE_INT, "256"),
    "model.num_layers": (*_POSITIVE_INT, "1"),
    "model.dropout": (_finite(0.0, 1.0), "a rate in [0, 1)", "0.1"),
    "model.output_dropout": (_finite(0.0, 1.0), "a rate in [0, 1)", "0.1"),
    "eval.bless_max_nats": (_finite(0.0, low_open=True), "a finite number > 0", "2.5"),
    "eval.bless_threshold": (_finite(-math.inf), "a finite number", "0.7"),
}
# Fields that name one of a fixed set (tests/test_contract.py checks that these are the
# names rnn_tf and the tasks accept).
CHOICES = {
    "model.cell": ("vanilla", "gru", "lstm"),
    "model.lexicon": ("", "vader", "vader_negation"),
    "model.dtype_policy": ("float32", "mixed_bfloat16"),
}
# train.seq_len bounds the work of one window; far above this it cannot fit in memory.
MAX_SEQ_LEN = 100_000


def check(config):
    """Raises common.UserError for the first bad value of `config` (a ConfigDict)."""
    flat = common.flatten(config.to_dict())
    for field, (test, must_be, example) in RULES.items():
        if field in flat and not test(flat[field]):
            raise common.UserError(
                f"{field}={flat[field]!r} must be {must_be}; set --config.{field}, "
                f"for example to {example}.")
    for field, names in CHOICES.items():
        if field in flat and flat[field] not in names:
            raise common.UserError(
                f"{field}={flat[field]!r} is not one of {', '.join(map(repr, names))}; set "
                f"--config.{field}, for example to {names[-1]!r}.")
    if flat.get("train.seq_len", 0) > MAX_SEQ_LEN:
        raise common.UserError(
            f"train.seq_len={flat['train.seq_len']} is above {MAX_SEQ_LEN:,}, more than one "
            "truncated-BPTT window can hold; set --config.train.seq_len, for example to 100.")


def check_directory(path, what):
    """Raises common.UserError unless `path` (a str) is, or can be made, a writable
    directory: not empty, not a file, not under a file, writable (a file can be made in
    it, or in its nearest existing parent; nothing is left behind). `what` names it in
    the message (e.g. '--workdir')."""
    fix = f"pass another {what}" if what.startswith("--") else f"set --config.{what}"
    if not path:
        example = "--workdir=runs/x" if what == "--workdir" else f"--config.{what}=runs/x"
        raise common.UserError(f"{what} is empty; pass a directory, for example {example}.")
    if os.path.exists(path) and not os.path.isdir(path):
        raise common.UserError(f"{what}={path} is a file, not a directory; {fix}.")
    parent = os.path.abspath(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise common.UserError(f"{what}={path} lies under the file {parent}; {fix}.")
    try:
        tempfile.TemporaryFile(dir=parent).close()
    except OSError as e:
        raise common.UserError(f"{what}={path} is not writable ({e.strerror}); {fix}, or "
                               "make it writable.") from None
