"""Our own TFDS builders for local corpora. Importing this package registers them."""

from pipelines.datasets import (  # noqa: F401
    bach_chorales, dates, english_text, pydoc_text, sentiment_labelled_sentences, spa_eng,
    ud_english_ewt)
