#!/bin/sh
# The interpreter of the Bazel Python toolchain: the environment's Python 3, where
# `pip install -r requirements.txt` put the requirements ($RNN_TF_PYTHON overrides it).
exec "${RNN_TF_PYTHON:-python3}" "$@"
