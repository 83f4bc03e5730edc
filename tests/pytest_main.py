"""Entry point of the Bazel py_test targets: runs pytest on the files given as arguments
and exits with its status (a test module imported as `main` would define its tests and
exit 0 without running them)."""

import sys

import pytest

if __name__ == "__main__":
    sys.exit(pytest.main(["-q"] + sys.argv[1:]))
