"""Stage 4, evaluate: nats/char on the validation and test splits, and the blessing.

Convention: mean nats per predicted character over non-overlapping windows of
`eval.window` characters, the state reset to zero at the start of each window.

A model is blessed when its validation nats/char is at most `eval.bless_max_nats` and no
worse than the last blessed model of the same name in the serving directory.
"""

import math
import os

from pipelines import common, transform, trainer


def serving_dir(config, workdir):
    return config.export.serving_dir or os.path.join(workdir, "serving")


def last_blessed(config, workdir):
    path = os.path.join(serving_dir(config, workdir), config.name, "blessed.json")
    return common.read_json(path) if os.path.exists(path) else None


def run(config, workdir):
    train_manifest = common.read_manifest(workdir, "train")
    inputs = common.fingerprint({"train": train_manifest, "eval": config.eval.to_dict()})
    out = common.stage_dir(workdir, "evaluate")
    if common.up_to_date(workdir, "evaluate", inputs):
        return out
    started = common.now_iso()
    model, vocab = trainer.load_best(config, workdir)
    _, arrays = transform.load(workdir)
    metrics = {}
    for split in ("validation", "test"):
        nats = trainer.evaluate_nats(model, arrays[split])
        metrics[split] = {"nats_per_char": nats, "bits_per_char": nats / math.log(2),
                          "perplexity": math.exp(nats)}
    val = metrics["validation"]["nats_per_char"]
    previous = last_blessed(config, workdir)
    if val > config.eval.bless_max_nats:
        blessed, why = False, f"val {val:.4f} > eval.bless_max_nats {config.eval.bless_max_nats}"
    elif previous and val > previous["validation_nats_per_char"]:
        blessed, why = False, (f"val {val:.4f} is worse than the last blessed model "
                               f"({previous['validation_nats_per_char']:.4f})")
    else:
        blessed, why = True, f"val {val:.4f} <= {config.eval.bless_max_nats}" + (
            f" and <= last blessed {previous['validation_nats_per_char']:.4f}"
            if previous else "")
    os.makedirs(out, exist_ok=True)
    common.write_json_atomic(os.path.join(out, "metrics.json"), metrics)
    common.write_json_atomic(os.path.join(out, "blessing.json"),
                             {"blessed": blessed, "reason": why})
    common.write_manifest(workdir, "evaluate", config.eval.to_dict(), inputs,
                          metrics=metrics, started=started, blessed=blessed, reason=why)
    return out
