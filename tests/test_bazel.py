"""The Bazel build's offline stand-ins and lock agree with the repo: every repository
Bazel 4's own tools would download has a stand-in in the repo, and requirements_lock.txt
(MODULE.bazel's pip.parse) pins every requirements.txt entry within its range."""

import os
import re
import sys

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# the checkout itself (through the runfiles symlink under Bazel): the stand-ins are other
# repositories to Bazel, so no target of this one can carry their files
ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools", "python"))

import lock_requirements  # noqa: E402

STAND_INS = ("rules_cc", "rules_java", "rules_proto", "rules_python", "remote_coverage_tools")


def test_workspace_has_a_local_stand_in_for_each_repository_bazel_4_downloads():
    workspace = open(os.path.join(ROOT, "WORKSPACE")).read()
    repos = dict(re.findall(r'local_repository\(\s*name = "(\w+)",\s*path = "([^"]+)"',
                            workspace))
    assert set(STAND_INS) <= set(repos), repos
    for name in STAND_INS:
        path = os.path.join(ROOT, repos[name])
        text = open(os.path.join(path, "WORKSPACE")).read()
        assert f'workspace(name = "{name}")' in text
    assert 'register_toolchains("//tools/python:toolchain")' in workspace


def test_stand_in_rules_are_bazels_built_in_rules():
    for repo, pkg in (("rules_cc", "cc"), ("rules_java", "java"), ("rules_proto", "proto"),
                      ("rules_python", "python")):
        defs = open(os.path.join(ROOT, "third_party", "bazel", repo, pkg, "defs.bzl")).read()
        for name, value in re.findall(r"^(\w+) = (\S+)$", defs, re.M):
            assert value in (f"native.{name}", f"_{name}", name), (repo, name, value)


def test_lock_pins_every_requirement_within_its_range():
    lock = {}
    for line in open(os.path.join(ROOT, "requirements_lock.txt")):
        if line.strip() and not line.startswith("#"):
            name, version = line.strip().split("==")
            lock[canonicalize_name(name)] = version
    for req in lock_requirements.read_requirements(os.path.join(ROOT, "requirements.txt")):
        name = canonicalize_name(req.name)
        assert name in lock, f"{req.name} missing from requirements_lock.txt"
        assert req.specifier.contains(lock[name], prereleases=True), (req, lock[name])


def test_lock_follows_each_installed_distributions_own_requirements():
    import importlib.metadata as metadata
    found = lock_requirements.closure([Requirement("keras")])
    # keras needs numpy and absl-py (its own metadata), at the installed versions
    assert {"keras", "numpy", "absl-py"} <= set(found), found
    assert found["numpy"] == metadata.version("numpy")
    assert lock_requirements.render({"b": "2", "a": "1"}).endswith("a==1\nb==2\n")
