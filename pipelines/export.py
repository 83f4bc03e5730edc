"""Stages 5 and 6: export a SavedModel with the task's serving signatures, and push a
blessed one.

The SavedModel is written to a temporary directory and renamed into place; a push copies
it to `<serving_dir>/<name>/<version>/` (the TF Serving layout) the same way, and records
it in `<serving_dir>/<name>/blessed.json` (`pipelines.blessing`). A push of the model
already pushed last (the same weights, by their fingerprint) adds no version.
"""

import hashlib
import os
import shutil

import tensorflow as tf

from pipelines import blessing, common
from pipelines.tasks import base


def export_dir(workdir):
    return os.path.join(common.stage_dir(workdir, "export"), "saved_model")


def inputs(task, config, workdir):
    """The fingerprint of what the artifact is made from."""
    return common.fingerprint({"train": common.read_manifest(workdir, "train"),
                               "export": config.export.to_dict()})


def weights_fingerprint(model):
    """sha256 of the model's weights (names, shapes and values), 16 hex digits."""
    h = hashlib.sha256()
    for w in model.weights:
        value = w.numpy()
        h.update(f"{w.path}:{value.dtype}:{value.shape}".encode())
        h.update(value.tobytes())
    return h.hexdigest()[:16]


def run(task, config, workdir, fingerprint):
    """Writes `<workdir>/export/saved_model`; returns the export artifact directory."""
    started = common.now_iso()
    out = common.stage_dir(workdir, "export")
    model = base.load_best(task, workdir)
    module = task.serving_module(model)
    signatures = {name: getattr(module, name if name != "serving_default" else "serve")
                  for name in task.signatures}
    tmp = common.make_temp_dir(out, "saved_model")
    tf.saved_model.save(module, tmp, signatures=signatures)
    common.replace_dir_atomic(tmp, export_dir(workdir))
    task.after_export(export_dir(workdir), out, model)
    common.write_manifest(workdir, "export", config.export.to_dict(), fingerprint,
                          started=started, saved_model=export_dir(workdir),
                          signatures=sorted(signatures),
                          model_fingerprint=weights_fingerprint(model))
    return out


def push(config, workdir, log=print):
    """Copies a blessed SavedModel to <serving_dir>/<name>/<version>/; returns that path,
    or None when the model is not blessed. The model pushed last is not pushed again:
    its version's path is returned."""
    record = common.read_json(os.path.join(common.stage_dir(workdir, "evaluate"),
                                           "blessing.json"))
    if not record["blessed"]:
        log("  not pushed: the model is not blessed")
        return None
    model = common.read_manifest(workdir, "export")["model_fingerprint"]
    name_dir = os.path.join(blessing.serving_dir(config, workdir), config.name)
    previous, _ = blessing.last_blessed(config, workdir)
    if previous and previous.get("model_fingerprint") == model and os.path.isdir(
            os.path.join(name_dir, str(previous["version"]))):
        path = os.path.join(name_dir, str(previous["version"]))
        log(f"  not pushed again: {path} holds this model already")
        return path
    os.makedirs(name_dir, exist_ok=True)
    versions = [int(v) for v in os.listdir(name_dir) if v.isdigit()]
    newest = os.path.join(name_dir, str(max(versions, default=0)))
    if versions and _same_tree(os.path.join(export_dir(workdir), "variables"),
                               os.path.join(newest, "variables")):
        # a push killed after its rename, before its record: the newest version holds
        # these weights (its variables are the export's, byte for byte)
        version = os.path.basename(newest)
        _record(name_dir, version, record, model)
        log(f"  not pushed again: {newest} holds this model already")
        return newest
    version = str(max(versions, default=0) + 1)
    tmp = common.make_temp_dir(name_dir, "push")
    shutil.copytree(export_dir(workdir), tmp, dirs_exist_ok=True)
    os.chmod(tmp, os.stat(export_dir(workdir)).st_mode)
    os.rename(tmp, os.path.join(name_dir, version))     # a version appears whole
    _record(name_dir, version, record, model)
    log(f"  pushed to {os.path.join(name_dir, version)}")
    return os.path.join(name_dir, version)


def _record(name_dir, version, record, model):
    common.write_json_atomic(os.path.join(name_dir, "blessed.json"),
                             {"version": int(version), "metric": record["metric"],
                              "value": record["value"], "model_fingerprint": model})


def _same_tree(a, b):
    """True when directories `a` and `b` hold the same files with the same bytes."""
    def files(root):
        out = {}
        for folder, _, names in os.walk(root):
            for name in names:
                path = os.path.join(folder, name)
                with open(path, "rb") as f:
                    out[os.path.relpath(path, root)] = hashlib.sha256(f.read()).digest()
        return out
    return os.path.isdir(a) and os.path.isdir(b) and files(a) == files(b)
