import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests import data  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "data(*names): the test reads these data sets from $RNN_TF_DATA_DIR "
        "(tests/data.py); absent, the test is skipped with a line naming them")
    config.addinivalue_line(
        "markers", "gpu: the test needs a GPU (Bazel target test_rnn_layer_gpu, tag `gpu`)")


def pytest_runtest_setup(item):
    data.require(*[name for mark in item.iter_markers("data") for name in mark.args])
