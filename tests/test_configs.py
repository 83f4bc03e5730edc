"""Every config file states its command and the result it reaches, and loads; BUILD runs
every test file."""

import glob
import importlib
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES = sorted(
    os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "configs", "*.py"))
    if "def get_config" in open(p).read())


def test_every_task_config_is_found():
    assert {"default", "char_lm_shakespeare", "char_lm_shakespeare_gru",
            "char_lm_shakespeare_deep", "sentiment", "upos", "dates", "translation",
            "bach"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_config_states_command_and_expected_result_and_loads(name):
    module = importlib.import_module(f"configs.{name}")
    doc = module.__doc__ or ""
    commands = re.findall(r"python -m pipelines\.train --config=(configs/\w+\.py)", doc)
    assert f"configs/{name}.py" in commands, f"{name}: no command naming its own file"
    assert re.search(r"Expected: .*\d\.\d", doc), f"{name}: no expected result"
    assert "RESULT" not in doc
    full, tiny = module.get_config(), module.get_config("tiny")
    assert full.task == tiny.task and full.name
    assert full.train.steps > tiny.train.steps
    with pytest.raises(ValueError, match="tiny"):
        module.get_config("huge")


def test_build_runs_every_test_file_through_pytest():
    build = open(os.path.join(ROOT, "BUILD")).read()
    sizes = dict(re.findall(r'^\s+"(test_\w+)": "(\w+)",$', build, re.M))
    assert set(sizes.values()) <= {"small", "medium", "large", "enormous"}, sizes
    listed = set(sizes)
    files = {os.path.basename(p)[:-3]
             for p in glob.glob(os.path.join(ROOT, "tests", "test_*.py"))}
    assert listed == files
    assert 'main = "tests/pytest_main.py"' in build
    # the tests marked `gpu` run in their own target, tagged so, and nowhere else
    gpu_files = {os.path.basename(p)[:-3]
                 for p in glob.glob(os.path.join(ROOT, "tests", "test_*.py"))
                 if re.search(r"^@pytest\.mark\.gpu$", open(p).read(), re.M)}
    assert gpu_files, "no test is marked gpu: test_rnn_layer's CPU/GPU agreement should be"
    for name in gpu_files:
        assert re.search(r'name = "%s_gpu",(.|\n)*?tags = \["gpu"\]' % name, build), name
    assert "\"'not gpu'\"" in build
