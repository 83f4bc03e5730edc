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
    """Writes JSON to a temporary file beside `path`, then renames it over `path`; the file
    gets the mode the umask gives a new file (mkstemp's is 0600)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=f".tmp-{os.getpid()}-")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=str)
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


def _umask():
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


def make_temp_dir(parent, prefix):
    """A new directory `<parent>/.tmp-<pid>-<prefix>...` to write into before a rename;
    `clean_stale` removes it if its process dies first."""
    os.makedirs(parent, exist_ok=True)
    return tempfile.mkdtemp(dir=parent, prefix=f".tmp-{os.getpid()}-{prefix}-")


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
    """Moves a fully written `tmp_dir` to `final_dir`, with the modes the umask gives new
    directories (mkdtemp's is 0700). An old `final_dir` is renamed to `<final_dir>.old`
    first and removed after the new one is in place, so no reader sees half a directory;
    a kill between the two renames leaves `.old`, which `recover_dir` puts back."""
    os.chmod(tmp_dir, 0o777 & ~_umask())
    recover_dir(final_dir)
    old = final_dir + ".old"
    if os.path.exists(final_dir):
        os.replace(final_dir, old)
    os.replace(tmp_dir, final_dir)
    shutil.rmtree(old, ignore_errors=True)


def recover_dir(final_dir):
    """After a kill inside `replace_dir_atomic`: `<final_dir>.old` with no `final_dir` is
    the previous copy, renamed back; beside a `final_dir` it is garbage, removed."""
    old = final_dir + ".old"
    if os.path.isdir(old):
        if os.path.exists(final_dir):
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(old, final_dir)


def clean_stale(directory, log=print, own=False):
    """Removes the leftovers of killed writers in `directory` (not below it): `.tmp-<pid>-*`
    entries whose process no longer runs (every `.tmp-*` entry when `own`, for a directory
    this process holds the lock of), and TensorFlow's unfinished `ckpt-*_temp` checkpoint
    directories; recovers `<name>.old` directories (`recover_dir`)."""
    if not os.path.isdir(directory):
        return
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if name.endswith(".old") and os.path.isdir(path):
            recover_dir(path[:-len(".old")])
            continue
        pid = name.split("-")[1] if name.startswith(".tmp-") else ""
        stale = (name.startswith(".tmp-") and (own or not pid.isdigit()
                                                or not _running(int(pid)))) or (
            name.startswith("ckpt-") and name.endswith("_temp"))
        if stale:
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
            log(f"removed {path}, left by a run that was killed while writing it")


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
