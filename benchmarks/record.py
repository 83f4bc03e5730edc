"""A benchmark's JSON record: what was measured, and where it came from (the git
revision and whether the tree was dirty, UTC start and end, the machine, the TensorFlow
and Keras versions, the exact command). Written through a temporary file and a rename."""

import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _git(*args):
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine():
    """{cpu, cores, memory_gib, platform}."""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    memory = 0.0
    try:
        with open("/proc/meminfo") as f:
            memory = int(next(line.split()[1] for line in f
                              if line.startswith("MemTotal"))) / 2 ** 20
    except (OSError, StopIteration, ValueError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(memory, 1),
            "platform": platform.platform()}


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def start():
    """The provenance known before measuring: {revision, dirty, started_utc, machine,
    versions, command}."""
    import keras
    import tensorflow as tf
    return {"revision": _git("rev-parse", "HEAD") or "unknown",
            "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
            "started_utc": now(), "machine": machine(),
            "versions": {"python": platform.python_version(), "tensorflow": tf.__version__,
                         "keras": keras.__version__},
            "command": " ".join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])}


def write(path, record):
    """Adds finished_utc and writes `record` to `path` atomically."""
    record = dict(record, finished_utc=now())
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        json.dump(record, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)
    return record


def provenance(rec):
    """The sentence under a generated table: what measured it, at which revision, when
    and on what machine."""
    m = rec["machine"]
    return (f"Measured by `{rec['command']}` at {rec['revision'][:7]}"
            f"{' (dirty tree)' if rec['dirty'] else ''}, {rec['started_utc']}, on "
            f"{m['cpu']} ({m['cores']} cores, {m['memory_gib']} GiB), TensorFlow "
            f"{rec['versions']['tensorflow']}.")


def section(text, name, body):
    """`text` (the README) with `body` between the `<!-- name -->` markers."""
    start, end = f"<!-- {name} -->\n", f"<!-- /{name} -->"
    i, j = text.index(start) + len(start), text.index(end)
    return text[:i] + body + "\n" + text[j:]


def write_readme_section(name, body):
    """Writes `body` between the README's `<!-- name -->` markers (through a rename)."""
    readme = os.path.join(ROOT, "README.md")
    with open(readme) as f:
        text = section(f.read(), name, body)
    with open(readme + ".tmp", "w") as f:
        f.write(text)
    os.replace(readme + ".tmp", readme)
