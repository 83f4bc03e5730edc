"""TFDS builder: Universal Dependencies English Web Treebank (UD v2.16), UPOS tagging.

Reads `en_ewt-ud-train.conllu.gz` and `en_ewt-ud-dev.conllu` from `manual_dir` (CC BY-SA
4.0 annotations). Multiword-token lines (ID `3-4`) and empty nodes (ID `8.1`) are
skipped: one example per sentence holds its words and their 17-way UPOS tags.

Splits (the official test file is held out by the project's steering side):
    train       the train file, minus the sentences of `validation`
    validation  1 in 20 train sentences, by a hash of sent_id (early stopping, selection)
    test        the official dev file, never used for selection: the reported number
"""

import hashlib
import os

import tensorflow_datasets as tfds

from pipelines.datasets import files

UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON",
        "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X")


def read_conllu(path):
    """Yields (sent_id, [forms], [upos]) per sentence of a CoNLL-U file (.gz or plain).
    A word line without 10 tab-separated columns or with a tag outside UPOS is an error
    naming the file and line (`files.bad_record`)."""
    sent_id, forms, tags = None, [], []
    for number, line in files.lines(path):
        if line.startswith("# sent_id ="):
            sent_id = line.split("=", 1)[1].strip()
        elif not line.strip():
            if forms:
                yield sent_id, forms, tags
            sent_id, forms, tags = None, [], []
        elif not line.startswith("#"):
            cols = line.split("\t")
            if len(cols) != 10:
                raise files.bad_record(path, number, f"a word line has {len(cols)} "
                                       "tab-separated columns, CoNLL-U has 10",
                                       "the file is truncated or damaged: copy it again")
            if "-" in cols[0] or "." in cols[0]:
                continue
            if cols[3] not in UPOS:
                raise files.bad_record(path, number, f"UPOS tag {cols[3]!r} is not one of "
                                       "the 17 UPOS tags", "fix that line or copy the file "
                                       "again")
            forms.append(cols[1])
            tags.append(cols[3])
    if forms:
        yield sent_id, forms, tags


def is_validation(sent_id):
    return int(hashlib.sha256(sent_id.encode()).hexdigest(), 16) % 20 == 0


class UdEnglishEwt(tfds.core.GeneratorBasedBuilder):
    """UD English-EWT sentences with UPOS tags."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "UD v2.16; validation = 1/20 of train by sent_id hash; "
                              "test = the official dev file."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Put en_ewt-ud-train.conllu.gz and en_ewt-ud-dev.conllu (UD_English-EWT r2.16) in "
        "manual_dir, e.g. --config.data.manual_dir=../shared/data/ud_english_ewt")

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "sent_id": tfds.features.Text(),
                "tokens": tfds.features.Sequence(tfds.features.Text()),
                "upos": tfds.features.Sequence(tfds.features.ClassLabel(names=UPOS)),
            }),
            homepage="https://universaldependencies.org/treebanks/en_ewt/",
            description="UD English-EWT v2.16 words and UPOS tags.")

    def _split_generators(self, dl_manager):
        d = dl_manager.manual_dir
        train = os.path.join(d, "en_ewt-ud-train.conllu.gz")
        return {"train": self._generate_examples(train, False),
                "validation": self._generate_examples(train, True),
                "test": self._generate_examples(os.path.join(d, "en_ewt-ud-dev.conllu"), None)}

    def _generate_examples(self, path, validation):
        for i, (sent_id, forms, tags) in enumerate(read_conllu(path)):
            sent_id = sent_id or f"{os.path.basename(path)}-{i}"
            if validation is not None and is_validation(sent_id) != validation:
                continue
            yield f"{sent_id}-{i}", {"sent_id": sent_id, "tokens": forms, "upos": tags}
