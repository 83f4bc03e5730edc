"""Character language model of tiny_shakespeare with the GRU cell (the gated cell).

Same data, split and evaluation convention as configs/char_lm_shakespeare.py.

Command:
    python -m pipelines.train --config=configs/char_lm_shakespeare_gru.py --workdir=runs/shakespeare_gru
Smoke run (~20 s):
    python -m pipelines.train --config=configs/char_lm_shakespeare_gru.py:tiny --workdir=/tmp/tsg
Expected: validation 1.432, test 1.551 nats_per_char in 20.4 min on 2 cores, against the
Keras baseline(s) at the same budget: Embedding(64) + GRU(512) 1.486 / 1.610 (the
`char_lm_gru` row of benchmarks/results.json, `python benchmarks/results_table.py
--task=char_lm_gru`; 0307efc, 2026-12-06 19:29 UTC, 2-core AMD EPYC).

This row is one of results_table.py's EXTRA rows: a full refresh leaves it out
(`--task=char_lm_gru` or `--all` runs it). Within the same 20 minutes a deep residual
vanilla RNN does better: configs/char_lm_shakespeare_deep.py.
"""

from configs import char_lm_shakespeare


def get_config(variant=None):
    if variant == "keras_arch":
        return char_lm_shakespeare.keras_arch(get_config(None), "gru")
    c = char_lm_shakespeare.get_config(variant, cell="gru")
    if variant == "tiny":
        c.name = "shakespeare_char_lm_gru"
        c.model.cell = "gru"
        return c
    # Two layers of 384 with locked dropout between them and before the head, windows at
    # random positions of the text: a 20-min probe of this gave val 1.482 / test 1.594,
    # where one layer of 512 with output dropout 0.25 gave 1.506 / 1.639 (its training
    # loss was already 0.13 below validation).
    c.model.num_layers = 2
    c.model.dropout = 0.2
    c.model.output_dropout = 0.2
    c.train.windows = "random"
    # the layer's compiled loops with the rest of the step left to TensorFlow (a 20-min
    # probe: 1.468 against 1.484 with the whole step in XLA), the decay run by the clock
    c.train.jit_compile = False
    c.train.schedule = "budget"
    c.train.steps = 20000                # an upper bound; the budget decides
    return c
