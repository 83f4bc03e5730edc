"""TFDS builder: unlabelled English text for pretraining character LMs, assembled offline
from the training splits of the project's licensed data sets.

Sources (SOURCES), each read from its own folder under `manual_dir` (the data root,
$RNN_TF_DATA_DIR), training text only, so that no validation or test text of any task is
in it:
- spa_eng: the English side of the `spa_eng` train split (sha1 buckets 3-19), each
  sentence once (Tatoeba, CC BY 2.0 FR);
- ud_english_ewt: the words of the EWT train sentences that are not in our validation
  split, joined by spaces (CC BY-SA 4.0);
- sentiment: the train split of `sentiment_labelled_sentences/all` (amazon and imdb);
- tiny_shakespeare: the first 90% of input.txt, TFDS's train split (public domain);
- pydoc: the train topics of `pydoc_text` (PSF license).
Sentences are grouped in file order into documents of DOC_SENTENCES lines joined by
"\\n"; Shakespeare and pydoc are cut at blank lines into documents of about DOC_CHARS.
A document goes to validation when sha1(text) % 20 == 0, to test when it is 1, else to
train: the corpus's own held-out text, for choosing the LM.

The builder's metadata (`info.metadata["corpus"]`, in dataset_info.json and in the ingest
manifest) records, per source, the documents, characters and sha256 of its text, and the
sha256 of the whole corpus.
"""

import hashlib
import os

import tensorflow_datasets as tfds

from pipelines.datasets import files, pydoc_text, sentiment_labelled_sentences, spa_eng
from pipelines.datasets import ud_english_ewt

SOURCES = ("spa_eng", "ud_english_ewt", "sentiment", "tiny_shakespeare", "pydoc")
DOC_SENTENCES = 64
DOC_CHARS = 4000


def _grouped(lines, size=DOC_SENTENCES):
    return ["\n".join(lines[i:i + size]) for i in range(0, len(lines), size)]


def _paragraphs(text, size=DOC_CHARS):
    """`text` cut at blank lines into documents of about `size` characters."""
    docs, current = [], []
    for para in text.split("\n\n"):
        current.append(para)
        if sum(len(p) + 2 for p in current) >= size:
            docs.append("\n\n".join(current))
            current = []
    if current:
        docs.append("\n\n".join(current))
    return [d for d in docs if d.strip()]


def read_source(name, data_root):
    """The training text of source `name` as a list of documents (str)."""
    if name == "spa_eng":
        seen, lines = set(), []
        for _, line in files.lines(os.path.join(data_root, "spa_eng", "spa_eng_train.txt.gz")):
            english = line.split("\t")[0].strip()
            if english and english not in seen and spa_eng.split_of(english) == "train" \
                    and spa_eng.bucket(english) != 0:
                seen.add(english)
                lines.append(english)
        return _grouped(lines)
    if name == "ud_english_ewt":
        path = os.path.join(data_root, "ud_english_ewt", "en_ewt-ud-train.conllu.gz")
        return _grouped([" ".join(forms) for i, (sent_id, forms, _) in
                         enumerate(ud_english_ewt.read_conllu(path))
                         if not ud_english_ewt.is_validation(
                             sent_id or f"{os.path.basename(path)}-{i}")])
    if name == "sentiment":
        rows = sentiment_labelled_sentences.read_lines(
            os.path.join(data_root, "sentiment_labelled_sentences"))
        train = sentiment_labelled_sentences.split_indices(len(rows))["train"]
        return _grouped([rows[i][1] for i in sorted(int(i) for i in train)])
    if name == "tiny_shakespeare":
        text = files.read_text(os.path.join(data_root, "tiny_shakespeare", "input.txt"))
        return _paragraphs(text[:int(len(text) * 0.9)])
    if name == "pydoc":
        from pydoc_data.topics import topics
        return [d for topic in sorted(topics) if pydoc_text.split_of(topic) == "train"
                for d in _paragraphs(topics[topic])]
    raise ValueError(f"unknown source {name!r}; use one of {SOURCES}")


def split_of(document):
    bucket = int(hashlib.sha1(document.encode("utf-8")).hexdigest(), 16) % 20
    return "validation" if bucket == 0 else "test" if bucket == 1 else "train"


def sha256(texts):
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8") + b"\0")
    return h.hexdigest()


class EnglishText(tfds.core.GeneratorBasedBuilder):
    """English documents from the training splits of the project's data sets."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "spa_eng (English side), EWT, sentiment, tiny_shakespeare and "
                              "pydoc training text; documents split by sha1 % 20."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Point manual_dir at the data root that holds spa_eng/, ud_english_ewt/, "
        "sentiment_labelled_sentences/ and tiny_shakespeare/, e.g. "
        "--config.data.manual_dir=../shared/data")

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({"source": tfds.features.Text(),
                                                 "text": tfds.features.Text()}),
            supervised_keys=None,
            metadata=tfds.core.MetadataDict(),
            description="Unlabelled English text for pretraining character LMs.")

    def _split_generators(self, dl_manager):
        splits = {"train": [], "validation": [], "test": []}
        corpus = {}
        for name in SOURCES:
            docs = read_source(name, dl_manager.manual_dir)
            corpus[name] = {"documents": len(docs), "chars": sum(map(len, docs)),
                            "sha256": sha256(docs)}
            for d in docs:
                splits[split_of(d)].append((name, d))
        corpus["all"] = {"documents": sum(c["documents"] for c in corpus.values()),
                         "chars": sum(c["chars"] for c in corpus.values()),
                         "sha256": sha256(d for rows in splits.values() for _, d in rows)}
        self.info.metadata["corpus"] = corpus
        return {s: self._generate_examples(rows) for s, rows in splits.items()}

    def _generate_examples(self, rows):
        for i, (source, text) in enumerate(rows):
            yield i, {"source": source, "text": text}
