"""Character language model of tiny_shakespeare with the GRU cell (the best cell here).

Same data, split and evaluation convention as configs/char_lm_shakespeare.py.

Command:
    python -m pipelines.train --config=configs/char_lm_shakespeare_gru.py --workdir=runs/shakespeare_gru
Smoke run (~20 s):
    python -m pipelines.train --config=configs/char_lm_shakespeare_gru.py:tiny --workdir=/tmp/tsg
Expected: RESULT_LINE
"""

from configs import char_lm_shakespeare


def get_config(variant=None):
    c = char_lm_shakespeare.get_config(variant, cell="gru")
    if variant == "tiny":
        c.name = "shakespeare_char_lm_gru"
        c.model.cell = "gru"
    return c
