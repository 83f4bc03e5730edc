"""TFDS builder: Spanish -> English sentence pairs from Tatoeba (manythings.org/anki,
the file of TensorFlow's "NMT with attention" tutorial; CC BY 2.0 FR).

Reads `spa_eng_train.txt.gz` (`english<TAB>spanish` per line) from `manual_dir`. The
project's steering side already holds out the pairs whose English side hashes to 0
(`sha1(english) % 20 == 0`); by the same rule we send `% 20 == 1` to validation and
`% 20 == 2` to test, so all translations of one English sentence fall in one split.
"""

import hashlib
import os

import tensorflow_datasets as tfds

from pipelines.datasets import files


def bucket(english):
    return int(hashlib.sha1(english.encode("utf-8")).hexdigest(), 16) % 20


def split_of(english):
    b = bucket(english)
    return "validation" if b == 1 else "test" if b == 2 else "train"


class SpaEngConfig(tfds.core.BuilderConfig):
    def __init__(self, *, every, **kwargs):
        super().__init__(**kwargs)
        self.every = every


class SpaEng(tfds.core.GeneratorBasedBuilder):
    """Spanish sentences (source) and their English translations (target)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "validation/test = sha1(english) % 20 == 1 / 2."}
    BUILDER_CONFIGS = [
        SpaEngConfig(name="full", every=1, description="every pair"),
        SpaEngConfig(name="small", every=40, description="every 40th line, for smoke runs"),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put spa_eng_train.txt.gz in manual_dir, e.g. "
        "--config.data.manual_dir=../shared/data/spa_eng")

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "source": tfds.features.Text(), "target": tfds.features.Text()}),
            supervised_keys=("source", "target"),
            homepage="https://www.manythings.org/anki/",
            description="Tatoeba Spanish -> English pairs.")

    def _split_generators(self, dl_manager):
        path = os.path.join(dl_manager.manual_dir, "spa_eng_train.txt.gz")
        return {s: self._generate_examples(path, s) for s in ("train", "validation", "test")}

    def _generate_examples(self, path, split):
        """A line without a tab between the English and the Spanish side is an error
        naming the file and line (`files.bad_record`)."""
        for number, line in files.lines(path):
            i = number - 1
            if not line.strip() or i % self.builder_config.every:
                continue
            if "\t" not in line:
                raise files.bad_record(path, number, "no tab between the English and the "
                                       "Spanish sentence", "fix or delete that line")
            english, spanish = line.split("\t")[:2]
            if split_of(english) == split:
                yield i, {"source": spanish, "target": english}
