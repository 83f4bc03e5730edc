"""What every stage shares: user errors, artifact manifests, atomic writes, fingerprints.

An artifact is a directory `<workdir>/<stage>/` holding its files and `manifest.json`:
the config section it used, the fingerprints of its inputs and of the code that made it
(the sources of `rnn_tf` and `pipelines`), the code revision, its metrics and timestamps.
A stage whose input and code fingerprints match the manifest is skipped: changed code
never reuses an artifact the old code built.
"""

import datetime
import functools
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


@functools.lru_cache(maxsize=None)
def code_fingerprint():
    """sha256 of the Python sources of the `rnn_tf` and `pipelines` packages (paths and
    contents), 16 hex digits: what a stage's artifact also depends on."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    h = hashlib.sha256()
    for package in ("rnn_tf", "pipelines"):
        for folder, dirs, files in os.walk(os.path.join(root, package)):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    h.update(os.path.relpath(path, root).encode() + b"\0")
                    with open(path, "rb") as f:
                        h.update(f.read() + b"\0")
    return h.hexdigest()[:16]


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
    """True when the stage's artifact was made from the same inputs by the same code
    (TFX-style caching)."""
    manifest = read_manifest(workdir, stage)
    return (bool(manifest) and manifest.get("inputs_fingerprint") == inputs_fingerprint
            and manifest.get("code_fingerprint") == code_fingerprint())


def write_manifest(workdir, stage, config_section, inputs_fingerprint, metrics=None,
                   started=None, **extra):
    now = datetime.datetime.now(datetime.timezone.utc).isoformat()
    write_json_atomic(os.path.join(stage_dir(workdir, stage), "manifest.json"), {
        "stage": stage, "config": config_section, "inputs_fingerprint": inputs_fingerprint,
        "code_revision": code_revision(), "code_fingerprint": code_fingerprint(),
        "metrics": metrics or {},
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


class WorkdirLock:
    """One run per workdir: `<workdir>/.lock` holds the owner's PID while a run is in it.

    A second run is refused with a UserError naming the lock and its owner; a lock whose
    process no longer runs (a killed run) is taken over, with a message to `log`.
    """

    def __init__(self, workdir, log=print):
        self.path = os.path.join(workdir, ".lock")
        self.log = log

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner is not None and _running(owner):
                    raise UserError(
                        f"{os.path.dirname(self.path)} is in use by process {owner} (lock "
                        f"{self.path}); wait for that run to end, or use another "
                        "--workdir.") from None
                self.log(f"taking over the stale lock {self.path} of process {owner}, "
                         "which is no longer running")
                try:
                    os.remove(self.path)
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            return self

    def _owner(self):
        try:
            with open(self.path) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None             # empty or half-written: its writer died

    def __exit__(self, *exc):
        if self._owner() == os.getpid():
            os.remove(self.path)


def _running(pid):
    """True when a process with this PID exists (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
