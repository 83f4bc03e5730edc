"""What every stage shares: user errors, artifact manifests, atomic writes, fingerprints.

An artifact is a directory `<workdir>/<stage>/` holding its files and `manifest.json`:
the config section it used, the fingerprints of its inputs, the code revision, its
metrics and timestamps. A stage whose input fingerprint matches the manifest is skipped.
"""

import datetime
import hashlib
import json
import os
import shutil
import subprocess
import tempfile


class UserError(ValueError):
    """A mistake in the user's flags, config or data: printed as one line, no traceback."""


def fingerprint(obj):
    """sha256 of a JSON-able object (sorted keys), 16 hex digits."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def code_revision():
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here,
                              capture_output=True, text=True, timeout=10).stdout.strip() \
            or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def write_json_atomic(path, obj):
    """Writes JSON to a temporary file beside `path`, then renames it over `path`."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=str)
    os.replace(tmp, path)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def stage_dir(workdir, stage):
    return os.path.join(workdir, stage)


def read_manifest(workdir, stage):
    path = os.path.join(stage_dir(workdir, stage), "manifest.json")
    return read_json(path) if os.path.exists(path) else None


def up_to_date(workdir, stage, inputs_fingerprint):
    """True when the stage's artifact was made from the same inputs (TFX-style caching)."""
    manifest = read_manifest(workdir, stage)
    return bool(manifest) and manifest.get("inputs_fingerprint") == inputs_fingerprint


def write_manifest(workdir, stage, config_section, inputs_fingerprint, metrics=None,
                   started=None, **extra):
    now = datetime.datetime.now(datetime.timezone.utc).isoformat()
    write_json_atomic(os.path.join(stage_dir(workdir, stage), "manifest.json"), {
        "stage": stage, "config": config_section, "inputs_fingerprint": inputs_fingerprint,
        "code_revision": code_revision(), "metrics": metrics or {},
        "started": started or now, "finished": now, **extra})


def replace_dir_atomic(tmp_dir, final_dir):
    """Moves a fully written `tmp_dir` to `final_dir`; an old `final_dir` is removed only
    after the new one is in place under a side name, so no reader sees half a directory."""
    old = None
    if os.path.exists(final_dir):
        old = final_dir + ".old-" + os.path.basename(tmp_dir)
        os.replace(final_dir, old)
    os.replace(tmp_dir, final_dir)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def flatten(d, prefix=""):
    """{'a': {'b': 1}} -> {'a.b': 1}."""
    flat = {}
    for k, v in d.items():
        if isinstance(v, dict):
            flat.update(flatten(v, f"{prefix}{k}."))
        else:
            flat[prefix + k] = v
    return flat


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()
