"""Unknown-word replacement on a trained translation run: the same weights decoded with
`eval.replace_unk` off and on, on the validation and test splits of its transform stage.

    python benchmarks/translation_unk.py [--workdir bench_out/results/translation]

The workdir is a finished `python -m pipelines.train --config=configs/translation.py`
run (results_table.py writes one to the default path). For each split and setting it
prints how many outputs hold an [UNK] (and how many [UNK] tokens), then exact match, chrF
and BLEU against the raw English sentences, as the evaluate stage computes them (beam
search of the run's `eval.beam_width`).
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workdir", default=os.path.join(ROOT, "bench_out", "results",
                                                     "translation"))
    args = p.parse_args()
    import ml_collections
    from pipelines import common
    from pipelines.tasks import base
    from pipelines import tasks
    config_path = os.path.join(args.workdir, "config.json")
    if not os.path.exists(config_path):
        raise SystemExit(f"error: {args.workdir} holds no pipeline run (no config.json); "
                         "train one first, e.g. python benchmarks/results_table.py "
                         "--task=translation")
    config = ml_collections.ConfigDict(common.read_json(config_path))
    if config.task != "seq2seq" or not config.model.attention:
        raise SystemExit(f"error: {args.workdir} is not a seq2seq run with attention")
    features = {s: base.load_features(args.workdir, s) for s in ("validation", "test")}
    for replace in (False, True):
        config.eval.replace_unk = replace
        task = tasks.get(config)
        model = base.load_best(task, args.workdir)
        for split, f in features.items():
            refs = [str(s) for s in f["text_target"]]
            hyps = task.decode_all(model, f["text_source"], config.eval.beam_width)
            metrics = task.text_metrics(hyps, refs)
            with_unk = sum("[UNK]" in h for h in hyps)
            print(json.dumps({"split": split, "replace_unk": replace,
                              "outputs_with_unk": with_unk,
                              "unk_tokens": sum(h.count("[UNK]") for h in hyps),
                              **{k: round(v, 3) if isinstance(v, float) else v
                                 for k, v in metrics.items()}}), flush=True)


if __name__ == "__main__":
    main()
