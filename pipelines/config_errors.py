"""absl and ml_collections errors about `--config` as one line that names the value and
the fix: an unknown field (with the nearest valid one), a bad value, an unknown
`:variant`, a config file that does not exist."""

import difflib
import os
import re

from pipelines import common, config_help

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The exception line at the end of a traceback that ml_collections folds into its message.
_LAST_EXCEPTION = re.compile(r"(?:^|\s)(\w+(?:Error|Exception)): (.*)$")


def explain(error, argv):
    """A one-line message for an exception raised while parsing `argv` (a list of str)."""
    message = " ".join(str(error).split())
    config_arg = flag_value(argv, "config") or os.path.join("configs", "default.py")
    if "Error whilst parsing config file" in message:
        found = _LAST_EXCEPTION.search(message)
        detail = found.group(2) if found else message
        return f"--config={config_arg}: {detail}"
    if "No such file or directory" in message or "Failed loading config file" in message:
        return (f"--config={config_arg}: no such config file; pass one of configs/*.py, "
                "for example --config=configs/default.py:tiny.")
    unknown = _unknown_field(argv, config_arg)
    if unknown:
        return unknown
    if not message.startswith("flag "):
        message = f"{type(error).__name__}: {message}"
    return f"{message} (see --helpfull)"


def flag_value(argv, name):
    """The value of the last --name=value (or --name value) in argv, as absl takes it."""
    value = None
    for i, arg in enumerate(argv):
        if arg.startswith(f"--{name}="):
            value = arg.split("=", 1)[1]
        elif arg == f"--{name}" and i + 1 < len(argv):
            value = argv[i + 1]
    return value


def _unknown_field(argv, config_arg):
    """"unknown config field 'X' in --config.a.X; did you mean 'Y'?" for the first
    --config.a.X that the config does not have, or None (all known, or the config does
    not load)."""
    try:
        fields = _fields(config_arg)
    except Exception:            # the config itself fails: ml_collections' message stands
        return None
    for arg in argv:
        if not arg.startswith("--config."):
            continue
        field = arg[len("--config."):].split("=", 1)[0]
        if field in fields or any(f.startswith(field + ".") for f in fields):
            continue
        near = difflib.get_close_matches(field, sorted(fields), n=1, cutoff=0.0)
        parent, _, leaf = field.rpartition(".")
        if near and near[0].rpartition(".")[0] == parent:
            near = [near[0].rpartition(".")[2]]           # the same section: its name
        hint = f"; did you mean '{near[0]}'?" if near else ""
        return (f"unknown config field '{leaf}' in --config.{field}{hint} "
                f"(--config={config_arg} --help lists the fields)")
    return None


def _fields(config_arg):
    """The dotted field names of the config that `config_arg` (path[:variant]) makes."""
    return set(common.flatten(config_help.load(config_arg).to_dict()))

