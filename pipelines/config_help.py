"""What `python -m pipelines.train --help` prints beyond the flags: the configs that exist
(one line each: path, task, what it trains) and, with `--config=...`, that config's
fields with their values."""

import ast
import importlib.util
import os

from pipelines import common

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(config_arg):
    """The ConfigDict that `config_arg` (path[:variant]) makes, the path relative to the
    working directory or else to the project."""
    path, _, variant = config_arg.partition(":")
    if not os.path.exists(path):
        path = os.path.join(ROOT, path)
    spec = importlib.util.spec_from_file_location("_config_for_help", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(*([variant] if variant else []))


def configs_listing():
    """One line per config in configs/: `configs/x.py  task  <docstring's first line>`."""
    folder = os.path.join(ROOT, "configs")
    lines = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if not name.endswith(".py") or name.startswith("_"):
            continue
        tree = ast.parse(open(path).read())
        if not any(isinstance(n, ast.FunctionDef) and n.name == "get_config"
                   for n in tree.body):
            continue                                   # a shared module, not a config
        summary = (ast.get_docstring(tree) or "").split("\n\n")[0].replace("\n", " ")
        task = load(os.path.join("configs", name)).task
        lines.append(f"  configs/{name:<29} {task:<9} {summary}")
    return "\n".join(lines)


def fields_listing(config_arg):
    """`  field = value` for every field of the config, in its order."""
    flat = common.flatten(load(config_arg).to_dict())
    width = max(len(k) for k in flat)
    return "\n".join(f"  {k:<{width}} = {v!r}" for k, v in flat.items())
