"""The pipeline's tasks. `config.task` names one; each is a `Task` (see base.py).

    char_lm    character language model (pipelines.transform/trainer/evaluate/export)
    classify   sentence classification, many-to-one          strings -> probabilities
    tag        sequence tagging, many-to-many Tx = Ty        strings -> tags
    seq2seq    encoder-decoder, Tx != Ty                     strings -> strings
    music      one-to-many piano-roll generation             seed -> piano roll / MIDI
"""

import importlib

from pipelines import common


def get(config):
    """The Task object for `config.task` (None for the character LM, which has its own
    TBPTT stages)."""
    name = config.task
    if name == "char_lm":
        return None
    tasks = {"classify": "ClassifyTask", "tag": "TagTask", "seq2seq": "Seq2SeqTask",
             "music": "MusicTask"}
    if name not in tasks:
        raise common.UserError(f"unknown task {name!r}; config.task must be one of "
                               f"{['char_lm'] + sorted(tasks)}.")
    module = importlib.import_module(f"pipelines.tasks.{name}")
    return getattr(module, tasks[name])(config)
