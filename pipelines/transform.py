"""Stage 2, transform: each split's raw examples -> the model's features, vocabularies
from the train split only (the task's `encode`).

Artifact `<workdir>/transform/`: meta.json (the task's `meta`: vocabularies, sizes) and
<split>.npz (features; ragged ones as values + row splits), see `pipelines.tasks.base`.
"""

import os

from pipelines import common
from pipelines.tasks import base


def inputs(task, config, workdir):
    """The fingerprint of what the artifact is made from."""
    return common.fingerprint({
        "ingest": common.read_manifest(workdir, "ingest")["inputs_fingerprint"],
        "section": task.transform_section()})


def run(task, config, workdir, fingerprint):
    """Encodes every split; returns the artifact directory."""
    started = common.now_iso()
    out = common.stage_dir(workdir, "transform")
    os.makedirs(out, exist_ok=True)
    counts = {}
    for split in base.SPLITS:
        features = task.encode(task.read(workdir, split), fit=split == "train")
        counts[split] = base.num_examples(features)
        base.save_features(os.path.join(out, f"{split}.npz"), features)
    common.write_json_atomic(os.path.join(out, "meta.json"), task.meta)
    ingest_manifest = common.read_manifest(workdir, "ingest")
    common.write_manifest(workdir, "transform", task.transform_section(), fingerprint,
                          started=started, vocab_hash=common.fingerprint(task.meta),
                          data_fingerprint=ingest_manifest["inputs_fingerprint"],
                          metrics={"examples": counts, **task.meta.get("stats", {})})
    return out
