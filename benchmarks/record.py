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


def add_flags(parser, name):
    """--record (write the run's record and section `name`'s table) and --table (print the
    committed record's table) on an argparse parser."""
    parser.add_argument("--record", action="store_true",
                        help=f"write the JSON record and {DOCUMENTS[name]}'s table")
    parser.add_argument("--table", action="store_true",
                        help="print the committed record's table")


def read(path):
    """The committed record at `path`."""
    with open(path) as f:
        return json.load(f)


def provenance(rec):
    """The sentence under a generated table: what measured it, at which revision, when
    and on what machine."""
    m = rec["machine"]
    return (f"Measured by `{rec['command']}` at {rec['revision'][:7]}"
            f"{' (dirty tree)' if rec['dirty'] else ''}, {rec['started_utc']}, on "
            f"{m['cpu']} ({m['cores']} cores, {m['memory_gib']} GiB), TensorFlow "
            f"{rec['versions']['tensorflow']}.")


# generated section -> the document (relative to the repository root) that holds it
DOCUMENTS = {
    "main_job": "README.md",
    "results": "README.md",
    "results_full": "RESULTS.md",
    "step_matched": "RESULTS.md",
    "dates_probe": "RESULTS.md",
    "char_lm_pretraining": "RESULTS.md",
    "sentiment_cross_domain": "RESULTS.md",
    "sentiment_transfer": "RESULTS.md",
    "train_throughput": "docs/speed.md",
    "train_throughput_by_machine": "docs/speed.md",
    "generation_latency": "docs/speed.md",
    "export_latency": "docs/speed.md",
    "mixed_precision": "docs/speed.md",
    "shape_sweep": "docs/speed.md",
    "mirrored_scaling": "docs/distribute.md",
}


def document(name):
    """The absolute path of the document that holds generated section `name`."""
    return os.path.join(ROOT, DOCUMENTS[name])


def read_document(name):
    with open(document(name)) as f:
        return f.read()


def section(text, name, body):
    """`text` with `body` between its `<!-- name -->` and `<!-- /name -->` markers."""
    start, end = f"<!-- {name} -->\n", f"<!-- /{name} -->"
    if start not in text or end not in text:
        raise ValueError(f"no <!-- {name} --> ... <!-- /{name} --> markers in the text; "
                         f"generated section {name!r} lives in {DOCUMENTS.get(name, '?')}")
    i, j = text.index(start) + len(start), text.index(end)
    return text[:i] + body + "\n" + text[j:]


def write_section(name, body):
    """Writes `body` between the markers of section `name` in its document (through a
    temporary file and a rename)."""
    path = document(name)
    text = section(read_document(name), name, body)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def replace_paragraph(path, first_words, paragraph):
    """Replaces the paragraph of file `path` that starts with `first_words` (up to the
    next blank line or the closing triple quote of a docstring) with `paragraph`, through
    a rename. Raises ValueError when no paragraph starts so."""
    with open(path) as f:
        text = f.read()
    i = text.find(first_words)
    if i < 0:
        raise ValueError(f"{path} has no paragraph starting {first_words!r}")
    ends = [k for k in (text.find("\n\n", i), text.find('\n"""', i)) if k >= 0]
    j = min(ends) if ends else len(text)
    text = text[:i] + paragraph.rstrip("\n") + text[j:]
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)
