"""Forward and backward character LMs of unlabelled English: the pretrained features of
`rnn_tf.CharLMEmbedding` (Akbik et al. 2018) for the tagger, classifier and seq2seq tasks.

Data: our TFDS builder `english_text` 1.0.0, assembled offline from the training text of
the project's data sets (the English side of spa_eng's train split, the EWT train
sentences, the sentiment train sentences, tiny_shakespeare's train split, the pydoc train
topics; about 5.4 million characters); no validation or test text of any task is in it.
Its documents are split 90/5/5 by a hash. The ingest manifest records the corpus: each
source's documents, characters and sha256, and the sha256 of the whole.
Model: the deep residual vanilla RNN of configs/char_lm_shakespeare.py (3 x 256), random
windows of 100 characters; the `backward` variant reads every document backwards
(`data.reverse`). Each export holds, beside the SavedModel, `char_lm.keras` and
`char_lm_vocab.json`: a task's `model.char_lm` names the pair of .keras files.

Command (the forward and the backward LM):
    python -m pipelines.train --config=configs/char_lm_english.py --workdir=runs/char_lm_english
    python -m pipelines.train --config=configs/char_lm_english.py:backward --workdir=runs/char_lm_english_backward
Smoke run (~30 s):
    python -m pipelines.train --config=configs/char_lm_english.py:tiny --workdir=/tmp/english
Expected: forward validation 1.292, test 1.357 nats/char after 8,376 steps (15.1 min of
training, 15.7 min for the command); backward validation 1.305, test 1.367 nats/char after
8,400 steps (15.1 min of training, 15.7 min for the command); corpus 5,443,644 characters,
sha256 07db2d7db19d. Measured by `benchmarks/pretrain_char_lm.py` at 865befa,
2026-12-07T02:53:09+00:00, on AMD EPYC (2 cores, 23.5 GiB), TensorFlow 2.21.0.
(benchmarks/records/char_lm_english.json)
"""

from configs import char_lm_shakespeare, supervised


def get_config(variant=None):
    if variant not in (None, "backward", "tiny", "tiny_backward"):
        raise ValueError(f"unknown config variant {variant!r}; use 'backward', 'tiny', "
                         "'tiny_backward' or none")
    tiny = variant in ("tiny", "tiny_backward")
    c = char_lm_shakespeare.get_config("tiny" if tiny else None)
    c.name = "english_char_lm"
    c.data.dataset = "english_text"
    c.data.manual_dir = supervised.data_root()
    c.data.reverse = variant in ("backward", "tiny_backward")
    if c.data.reverse:
        c.name += "_backward"
    c.export.sample_prime = "" if c.data.reverse else "The "
    if tiny:
        c.data.max_chars_per_split = 20000
        return c
    c.train.time_budget_s = 900.0
    c.eval.bless_max_nats = 2.0
    return c
