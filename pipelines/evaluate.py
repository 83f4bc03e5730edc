"""Stage 4, evaluate: nats/char on the validation and test splits, and the blessing.

Convention: mean nats per predicted character over non-overlapping windows of
`eval.window` characters, the state reset to zero at the start of each window.

A model is blessed when its validation nats/char is finite, at most `eval.bless_max_nats`
and no worse than the last blessed model of the same name in the serving directory
(`pipelines.blessing`).
"""

import math
import os

from pipelines import blessing, common, transform, trainer


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
    os.makedirs(out, exist_ok=True)
    common.write_json_atomic(os.path.join(out, "metrics.json"), metrics)
    record = blessing.write(config, workdir, out, "nats_per_char",
                            metrics["validation"]["nats_per_char"],
                            config.eval.bless_max_nats, higher_is_better=False)
    common.write_manifest(workdir, "evaluate", config.eval.to_dict(), inputs,
                          metrics=metrics, started=started, blessed=record["blessed"],
                          reason=record["reason"], warning=record["warning"])
    return out
