"""Our own TFDS builders for local corpora. Importing this package registers them."""

from pipelines.datasets import pydoc_text  # noqa: F401
