"""TFDS builder: UCI Sentiment Labelled Sentences, the amazon and imdb parts (CC BY 4.0).

Reads `amazon_cells_labelled.txt` and `imdb_labelled.txt` from `manual_dir` (one
`sentence<TAB>label` per line, 1 = positive). The 2,000 sentences are shuffled by a fixed
seed and cut 80/10/10 into train/validation/test (1,600/200/200), so the splits are
disjoint and the same on every machine.

Configs: `all` (the default: both files, as above), `amazon` and `imdb` (one file's 1,000
sentences, cut 80/10/10 by the same seed), for measuring how a model trained on one
domain does on the other (benchmarks/sentiment_cross_domain.py).
"""

import os

import numpy as np
import tensorflow_datasets as tfds

from pipelines.datasets import files

FILES = ("amazon_cells_labelled.txt", "imdb_labelled.txt")
SOURCES = tuple(name.split("_")[0] for name in FILES)
SPLIT_SEED = 2015


def read_lines(manual_dir, sources=SOURCES):
    """[(source, sentence, label)] in file order, from the files of `sources`. Lines are
    split on '\\n' only (the imdb file holds U+0085, which str.splitlines would break on)
    and on the last tab. A line without a tab and a 0/1 label after it is an error naming
    the file and line (`files.bad_record`); blank lines are skipped."""
    rows = []
    for name in FILES:
        if name.split("_")[0] not in sources:
            continue
        path = os.path.join(manual_dir, name)
        for number, line in files.lines(path):
            if not line.strip():
                continue
            sentence, tab, label = line.rpartition("\t")
            if not tab or label.strip() not in ("0", "1"):
                raise files.bad_record(
                    path, number, f"{line[-40:]!r} does not end in a tab and a label 0 or 1",
                    "fix or delete that line")
            rows.append((name.split("_")[0], sentence.strip(), int(label)))
    return rows


def split_indices(n, seed=SPLIT_SEED):
    """{'train', 'validation', 'test'} -> example indices, 80/10/10 by a seeded shuffle."""
    order = np.random.default_rng(seed).permutation(n)
    a, b = int(n * 0.8), int(n * 0.9)
    return {"train": order[:a], "validation": order[a:b], "test": order[b:]}


class SentimentConfig(tfds.core.BuilderConfig):
    def __init__(self, *, sources, **kwargs):
        super().__init__(**kwargs)
        self.sources = sources


class SentimentLabelledSentences(tfds.core.GeneratorBasedBuilder):
    """Binary sentiment of single sentences from product and movie reviews."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "amazon + imdb, 80/10/10 by seed 2015."}
    BUILDER_CONFIGS = [
        SentimentConfig(name="all", sources=SOURCES,
                        description="amazon + imdb, 1,600 / 200 / 200"),
        SentimentConfig(name="amazon", sources=("amazon",),
                        description="amazon (cell phones) only, 800 / 100 / 100"),
        SentimentConfig(name="imdb", sources=("imdb",),
                        description="imdb (movies) only, 800 / 100 / 100"),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put amazon_cells_labelled.txt and imdb_labelled.txt (UCI data set 331) in "
        "manual_dir, e.g. --config.data.manual_dir=../shared/data/sentiment_labelled_sentences")

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "sentence": tfds.features.Text(),
                "label": tfds.features.ClassLabel(names=["negative", "positive"]),
                "source": tfds.features.Text(),
            }),
            supervised_keys=("sentence", "label"),
            homepage="https://doi.org/10.24432/C57604",
            description="Sentiment Labelled Sentences (Kotzias et al., KDD 2015).")

    def _split_generators(self, dl_manager):
        rows = read_lines(dl_manager.manual_dir, self.builder_config.sources)
        return {split: self._generate_examples(rows, idx)
                for split, idx in split_indices(len(rows)).items()}

    def _generate_examples(self, rows, indices):
        for i in sorted(int(i) for i in indices):
            source, sentence, label = rows[i]
            yield i, {"sentence": sentence, "label": label, "source": source}
