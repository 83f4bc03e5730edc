"""TFDS builder: the Python reference documentation shipped with every CPython.

`pydoc_data.topics.topics` maps 79 topic names to their text (the Python Software
Foundation license). One example per topic; the split of a topic is fixed by a hash of
its name, so the splits are disjoint and deterministic across machines.
"""

import hashlib

import tensorflow_datasets as tfds


def split_of(topic):
    """'test' for ~5% of topics, 'validation' for ~5%, else 'train' (by name hash)."""
    bucket = int(hashlib.sha256(topic.encode()).hexdigest(), 16) % 20
    return "test" if bucket == 0 else "validation" if bucket == 1 else "train"


class PydocText(tfds.core.GeneratorBasedBuilder):
    """The Python language reference topics as plain text documents."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Topics of pydoc_data, split by a hash of the topic name."}

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "topic": tfds.features.Text(),
                "text": tfds.features.Text(),
            }),
            supervised_keys=None,
            homepage="https://docs.python.org/3/reference/",
            description="The Python reference documentation from pydoc_data.topics.")

    def _split_generators(self, dl_manager):
        del dl_manager    # local: nothing to download
        return {name: self._generate_examples(name)
                for name in ("train", "validation", "test")}

    def _generate_examples(self, split):
        from pydoc_data.topics import topics
        for topic in sorted(topics):
            if split_of(topic) == split:
                yield topic, {"topic": topic, "text": topics[topic]}
