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
    assert out.returncode == 2 and "has no field train.nope" in out.stderr, out.stderr
