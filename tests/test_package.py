"""The project installs as a package: `pip install .` puts rnn_tf, pipelines and configs
where Python finds them from any directory, and the pipeline's command runs from there."""

import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_pip_install_gives_importable_packages_and_the_command(tmp_path):
    source, target = tmp_path / "source", tmp_path / "site"
    # a copy of the sources and pyproject.toml: setuptools builds in the source tree
    for name in ("pyproject.toml", "README.md", "rnn_tf", "pipelines", "configs"):
        path = os.path.join(ROOT, name)
        source.mkdir(exist_ok=True)
        (shutil.copytree if os.path.isdir(path) else shutil.copy)(
            path, source / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                    if os.path.isdir(path) else {}))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(source)],
                   check=True, capture_output=True, timeout=300)
    assert {"rnn_tf", "pipelines", "configs"} <= set(os.listdir(target))
    env = dict(os.environ, PYTHONPATH=str(target))
    code = ("import rnn_tf, pipelines.train, configs.default; "
            "print(rnn_tf.__file__.startswith(%r), configs.default.get_config().task)"
            % str(target))
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.split()[-2:] == ["True", "char_lm"], out.stderr
    out = subprocess.run([sys.executable, "-m", "pipelines.train", "--config.train.nope=1"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "unknown config field 'nope'" in out.stderr, out.stderr


def test_a_run_prints_no_tensorflow_start_up_noise(tmp_path):
    """Without TF_CPP_MIN_LOG_LEVEL in the environment, a run prints none of TensorFlow's
    start-up lines (missing CUDA drivers, CPU instructions, a failed cuInit on a machine
    without a GPU, oneDNN's notice about int32 when training starts), and no line
    twice."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run(
        [sys.executable, "-m", "pipelines.train", "--config=configs/default.py:tiny",
         f"--workdir={tmp_path / 'run'}", "--stages=ingest,transform,train",
         "--config.train.steps=5"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout + out.stderr
    for noise in ("absl::InitializeLog", "cudart_stub", "cuInit", "CUDA error",
                  "cpu_feature_guard", "To enable the following instructions",
                  "oneDNN supports DT_INT32"):
        assert noise not in text, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == len(set(lines)), text
    assert lines[0] == "[ingest]", text


def test_start_up_filter_keeps_every_other_line():
    from pipelines import startup
    captured = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to "
        "STDERR\n"
        "I0000 00:00:1.0 1 cudart_stub.cc:31] Could not find cuda drivers on your machine, "
        "GPU will not be used.\n"
        "E0000 00:00:2.0 1 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA "
        "error: Failed call to cuInit: UNKNOWN ERROR (303)\n"
        "E0000 00:00:3.0 1 some_op.cc:7] a real error\n"
        "a line a library printed\n")
    assert startup.startup_lines_to_keep(captured) == [
        "E0000 00:00:3.0 1 some_op.cc:7] a real error", "a line a library printed"]
    # with drivers present, a failed cuInit is a real error and is kept
    with_driver = captured.replace("Could not find cuda drivers", "loaded")
    assert any("cuInit" in line for line in startup.startup_lines_to_keep(with_driver))


def test_requirements_and_pyproject_pin_the_same_versions():
    """The packages that generate data (faker, babel: dates; music21: Bach) and score it
    (sacrebleu) are pinned, so a generated data set and its score are reproducible; the
    two dependency lists agree."""
    import re
    import tomllib
    with open(os.path.join(ROOT, "requirements.txt")) as f:
        reqs = {line.strip() for line in f if line.strip() and not line.startswith("#")}
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    assert set(project["dependencies"]) == reqs - {"pytest"}
    pinned = {re.split("==", r)[0].lower(): r for r in reqs if "==" in r}
    for name in ("faker", "babel", "music21", "sacrebleu", "tensorflow", "keras"):
        assert name in pinned, f"{name} is not pinned in requirements.txt"
    assert project["optional-dependencies"]["gpu"] == ["tensorflow[and-cuda]==2.21.*"]


def test_a_test_whose_data_set_is_absent_is_skipped_with_its_name(tmp_path):
    """Without the data, a test that reads it is skipped with a line naming the data set
    and the variable (pytest -rs prints it); with RNN_TF_REQUIRE_DATA=1, as CI runs, it is an
    error at set-up instead."""
    test = "tests/test_tasks.py::test_ud_splits_disjoint_deterministic"
    env = dict(os.environ, RNN_TF_DATA_DIR=str(tmp_path))
    env.pop("RNN_TF_REQUIRE_DATA", None)
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", test], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "1 skipped" in out.stdout, out.stdout[-3000:]
    assert ("SKIPPED [1] tests/data.py" in out.stdout
            and f"needs the data set ud_english_ewt: en_ewt-ud-train.conllu.gz is not in "
                f"{tmp_path}/ud_english_ewt; set RNN_TF_DATA_DIR" in out.stdout), out.stdout
    env["RNN_TF_REQUIRE_DATA"] = "1"
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", test], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 1 and "1 error" in out.stdout, out.stdout[-3000:]
