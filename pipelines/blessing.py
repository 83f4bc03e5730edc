"""The blessing: whether an evaluated model may be pushed to serving.

A model is blessed when its selecting validation metric (the character LM's nats/char, a
task's primary metric)
  1. is finite,
  2. passes the config's threshold (`eval.bless_max_nats`, `eval.bless_threshold`), and
  3. is no worse than the last blessed model of the same name in the serving directory.
Every comparison is written as the condition that must hold, so a NaN fails it (a
comparison with NaN is False). A `blessed.json` whose value is not finite (written before
this rule) is treated as "no previous blessed model", with a warning.

Records, JSON:
  <workdir>/evaluate/blessing.json   {"blessed": bool, "reason": str, "metric": str,
                                      "value": float, "warning": str (may be '')}
  <serving_dir>/<name>/blessed.json  {"version": int, "metric": str, "value": float}
"""

import math
import os

from pipelines import common


def serving_dir(config, workdir):
    """`export.serving_dir`, or `<workdir>/serving` when it is ''."""
    return config.export.serving_dir or os.path.join(workdir, "serving")


def blessed_path(config, workdir):
    return os.path.join(serving_dir(config, workdir), config.name, "blessed.json")


def last_blessed(config, workdir):
    """(record, warning): the last pushed blessed model's {"metric", "value", ...} or None,
    and a one-line warning ('' when none) when its record cannot be compared with."""
    path = blessed_path(config, workdir)
    if not os.path.exists(path):
        return None, ""
    record = dict(common.read_json(path))
    if "metric" not in record and "validation_nats_per_char" in record:
        # the character LM's record before tasks shared one format
        record.update(metric="nats_per_char", value=record["validation_nats_per_char"])
    value = record.get("value")
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return None, (f"{path} holds a non-finite {record.get('metric', 'metric')} "
                      f"({value}); treating it as no previous blessed model")
    return record, ""


def decide(metric, value, threshold, higher_is_better, previous):
    """(blessed: bool, reason: str) for validation `metric` = `value` (float) against the
    threshold and the previous record (or None)."""
    op = ">=" if higher_is_better else "<="

    def holds(a, b):              # a is at least as good as b; False when either is NaN
        return a >= b if higher_is_better else a <= b

    value = float(value)
    if not math.isfinite(value):
        return False, f"val {metric} {value} is not finite"
    if not holds(value, threshold):
        return False, f"val {metric} {value:.4f} fails {op} threshold {threshold}"
    same_metric = previous is not None and previous.get("metric") == metric
    if same_metric and not holds(value, previous["value"]):
        return False, (f"val {metric} {value:.4f} is worse than the last blessed model "
                       f"({previous['value']:.4f})")
    return True, f"val {metric} {value:.4f} {op} {threshold}" + (
        f" and no worse than the last blessed {previous['value']:.4f}" if same_metric else "")


def write(config, workdir, out, metric, value, threshold, higher_is_better):
    """Decides and writes `<out>/blessing.json`; returns its record."""
    previous, warning = last_blessed(config, workdir)
    blessed, reason = decide(metric, value, threshold, higher_is_better, previous)
    record = {"blessed": blessed, "reason": reason, "metric": metric, "value": float(value),
              "warning": warning}
    common.write_json_atomic(os.path.join(out, "blessing.json"), record)
    return record
