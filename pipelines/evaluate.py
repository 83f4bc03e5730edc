"""Stage 4, evaluate: the task's metrics on the validation and test splits, and the
blessing (`pipelines.blessing`): the primary validation metric must be finite, pass the
task's threshold and be no worse than the last blessed model of the same name.

Artifact `<workdir>/evaluate/`: metrics.json ({split: {metric: value}}), blessing.json.
"""

import os

from pipelines import blessing, common
from pipelines.tasks import base


def inputs(task, config, workdir):
    """The fingerprint of what the artifact is made from."""
    return common.fingerprint({"train": common.read_manifest(workdir, "train"),
                               "eval": config.eval.to_dict()})


def run(task, config, workdir, fingerprint):
    started = common.now_iso()
    out = common.stage_dir(workdir, "evaluate")
    model = base.load_best(task, workdir)
    metrics = {s: task.evaluate(model, base.load_features(workdir, s))
               for s in ("validation", "test")}
    os.makedirs(out, exist_ok=True)
    common.write_json_atomic(os.path.join(out, "metrics.json"), metrics)
    record = blessing.write(config, workdir, out, task.primary,
                            metrics["validation"][task.primary], task.bless_threshold(),
                            task.higher_is_better)
    common.write_manifest(workdir, "evaluate", config.eval.to_dict(), fingerprint,
                          metrics=metrics, started=started, blessed=record["blessed"],
                          reason=record["reason"], warning=record["warning"])
    return out
