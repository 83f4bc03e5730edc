"""Offline stand-in for rules_python under Bazel 4 (WORKSPACE mode): the names the BUILD
file loads from @rules_python are Bazel's built-in Python rules. With a current Bazel,
MODULE.bazel brings the real rules_python and the same BUILD file loads its rules."""

load("@bazel_tools//tools/python:toolchain.bzl", _py_runtime_pair = "py_runtime_pair")

py_binary = native.py_binary
py_library = native.py_library
py_runtime = native.py_runtime
py_runtime_pair = _py_runtime_pair
py_test = native.py_test
