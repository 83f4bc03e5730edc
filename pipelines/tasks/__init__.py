"""The pipeline's tasks. `config.task` names one; each is a `Task` (see base.py).

    char_lm    character language model, many-to-many      strings -> text, nats/char
    classify   sentence classification, many-to-one          strings -> probabilities
    tag        sequence tagging, many-to-many Tx = Ty        strings -> tags
    seq2seq    encoder-decoder, Tx != Ty                     strings -> strings
    music      one-to-many piano-roll generation             seed -> piano roll / MIDI
"""

import importlib

from pipelines import common

TASKS = {"char_lm": ("lm", "LMTask"), "classify": ("classify", "ClassifyTask"),
         "tag": ("tag", "TagTask"), "seq2seq": ("seq2seq", "Seq2SeqTask"),
         "music": ("music", "MusicTask")}


def get(config):
    """The Task object for `config.task`."""
    name = config.task
    if name not in TASKS:
        raise common.UserError(f"unknown task {name!r}; config.task must be one of "
                               f"{sorted(TASKS)}.")
    module, cls = TASKS[name]
    return getattr(importlib.import_module(f"pipelines.tasks.{module}"), cls)(config)
