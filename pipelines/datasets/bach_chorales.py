"""TFDS builder: Bach chorales from music21's corpus as 4-voice piano rolls.

The chorales are read at run time from the installed `music21` package (its corpus;
nothing is copied into this repository): the 371 of `corpus.chorales.Iterator()`, kept
when they have exactly four parts. Each becomes a piano roll on a fixed grid of
`STEP` quarter notes (an eighth note): <uint8>[time, 128], 1 where a MIDI pitch sounds.
Tied notes are merged; a repeated note on the grid reads as one held note.

Splits by chorale: a hash of the corpus name sends 1 in 10 to validation and 1 in 10 to
test. Parsing the corpus takes a minute, so the rolls are cached in
`$RNN_TF_CACHE` (default ~/.cache/rnn_tf) under a name that holds the music21 version.
"""

import hashlib
import os

import numpy as np
import tensorflow_datasets as tfds

STEP = 0.5                       # quarter notes per grid step
PITCHES = 128


def split_of(name):
    b = int(hashlib.sha256(name.encode()).hexdigest(), 16) % 10
    return "validation" if b == 0 else "test" if b == 1 else "train"


def stream_to_roll(score, step=STEP, length=None):
    """music21 Score (or a Stream without parts) -> <uint8>[time, 128] piano roll of all
    parts together; `length` steps, default up to the score's end."""
    end = length or int(round(float(score.highestTime) / step))
    roll = np.zeros((max(end, 1), PITCHES), np.uint8)
    parts = list(getattr(score, "parts", None) or [])
    for part in (parts or [score]):
        for n in part.stripTies().flatten().notes:
            a = int(round(float(n.offset) / step))
            b = max(a + 1, int(round(float(n.offset + n.quarterLength) / step)))
            for p in n.pitches:
                roll[a:b, p.midi] = 1
    return roll


def roll_to_stream(roll, lowest=0, step=STEP):
    """<[time, P]> 0/1 roll (column j is MIDI pitch lowest + j) -> music21 Stream: each run
    of consecutive 1s of a pitch becomes one note."""
    from music21 import note, stream
    s = stream.Stream()
    roll = np.asarray(roll) > 0.5
    for j in range(roll.shape[1]):
        t = 0
        while t < roll.shape[0]:
            if roll[t, j]:
                u = t
                while u < roll.shape[0] and roll[u, j]:
                    u += 1
                n = note.Note(midi=lowest + j, quarterLength=(u - t) * step)
                s.insert(t * step, n)
                t = u
            else:
                t += 1
    return s


def cache_path():
    import music21
    root = os.environ.get("RNN_TF_CACHE", os.path.join(os.path.expanduser("~"), ".cache",
                                                       "rnn_tf"))
    return os.path.join(root, f"bach_chorales-music21-{music21.__version__}-step{STEP}.npz")


def load_rolls(limit=0):
    """{name: roll} of the four-part chorales (from the cache when there is one)."""
    path = cache_path()
    if os.path.exists(path) and not limit:
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    from music21 import corpus
    rolls = {}
    for name in corpus.chorales.Iterator(returnType="filename"):
        score = corpus.parse(name)
        if len(score.parts) == 4:
            rolls[name] = stream_to_roll(score)
        if limit and len(rolls) >= limit:
            return rolls
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + f".tmp-{os.getpid()}.npz"
    np.savez_compressed(tmp, **rolls)
    os.replace(tmp, path)
    return rolls


class BachChoralesConfig(tfds.core.BuilderConfig):
    def __init__(self, *, limit, **kwargs):
        super().__init__(**kwargs)
        self.limit = limit


class BachChorales(tfds.core.GeneratorBasedBuilder):
    """Four-part Bach chorales as piano rolls (music21 corpus)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "eighth-note grid, split 8/1/1 by name hash."}
    BUILDER_CONFIGS = [
        BachChoralesConfig(name="full", limit=0, description="all four-part chorales"),
        BachChoralesConfig(name="small", limit=40,
                           description="the first 40 chorales, for smoke runs and tests"),
    ]

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "name": tfds.features.Text(),
                "roll": tfds.features.Tensor(shape=(None, PITCHES), dtype=np.uint8)}),
            homepage="https://web.mit.edu/music21/",
            description="J.S. Bach's four-part chorales from the music21 corpus.")

    def _split_generators(self, dl_manager):
        del dl_manager
        rolls = load_rolls(self.builder_config.limit)
        small = self.builder_config.limit
        return {s: self._generate_examples(rolls, s, small)
                for s in ("train", "validation", "test")}

    def _generate_examples(self, rolls, split, small):
        names = sorted(rolls)
        for i, name in enumerate(names):
            # the small config splits by position so 40 chorales still fill every split
            s = (("validation", "test") + ("train",) * 8)[i % 10] if small else split_of(name)
            if s == split:
                yield name, {"name": name, "roll": rolls[name]}
