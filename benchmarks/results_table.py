"""Runs each task's real config through the pipeline, then the standard Keras model for
the task under the same wall-time budget on the same transform artifacts, and writes the
README's one-line-per-task summary (between the `results` markers), RESULTS.md's full
table (`results_full`), each config's "Expected:" paragraph and benchmarks/results.json.

    python benchmarks/results_table.py                      # a full refresh
    python benchmarks/results_table.py --task=sentiment     # one task; others are kept
    python benchmarks/results_table.py --all                # also the EXTRA rows
    python benchmarks/results_table.py --list
    python benchmarks/results_table.py --render             # tables from results.json only
    python benchmarks/results_table.py --keras-arch         # the baselines' models on rnn_tf
    python benchmarks/results_table.py --char-lm            # without / with char-LM states
    python benchmarks/results_table.py --task=translation --step-matched=abad60c --steps=7000 \
        [--seed=1]

Each row: task, data, model, parameters, wall time of our pipeline (all stages), our
validation and test metric, the Keras baseline's, and the command that made our row.

Within one run, a baseline that two tasks ask for with equal inputs (the same function and
arguments, budget, batch size and transform artifacts; only for the functions in
keras_baselines.ARTIFACTS_ONLY) is trained once and its result given to both rows: the
GRU and deep char LMs share keras GRU(512) at 20 min. A full refresh (every task but the
EXTRA rows) records its wall time in results.json (`_full_refresh`) and under the table.

The EXTRA rows are kept in the table but left out of a full refresh: they are not among
the rows the project's floors ask for, and a full refresh is meant to fit in about two
hours. `--all` or `--task=<name>` runs them.
"""

import argparse
import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks import record  # noqa: E402
RESULTS = os.path.join(ROOT, "benchmarks", "results.json")

# task -> (config, data, metric, higher is better, [baseline(name, fn name, kwargs)])
TASKS = {
    "char_lm_vanilla": ("configs/char_lm_shakespeare.py", "tiny_shakespeare",
                        "nats_per_char", False,
                        [("char_lm", {"cell": "SimpleRNN", "units": 512})]),
    "char_lm_gru": ("configs/char_lm_shakespeare_gru.py", "tiny_shakespeare",
                    "nats_per_char", False, [("char_lm", {"cell": "GRU", "units": 512})]),
    "char_lm_deep": ("configs/char_lm_shakespeare_deep.py", "tiny_shakespeare",
                     "nats_per_char", False, [("char_lm", {"cell": "GRU", "units": 512})]),
    "sentiment": ("configs/sentiment.py", "sentiment_labelled_sentences", "accuracy", True,
                  [("sentiment_bigru", {}), ("sentiment_tfidf", {})]),
    "upos": ("configs/upos.py", "ud_english_ewt (test = dev)", "accuracy", True,
             [("upos_bilstm", {})]),
    "dates": ("configs/dates.py", "dates (faker + babel)", "exact_match", True,
              [("seq2seq_bilstm", {}), ("seq2seq_gru", {})]),
    "translation": ("configs/translation.py", "spa_eng", "chrf", True,
                    [("seq2seq_gru", {})]),
    "bach": ("configs/bach.py", "Bach chorales (music21)", "nats_per_step", False,
             [("music_gru", {})]),
}


# the GRU char LM: the gated cell's row, beside the best (deep vanilla) one
EXTRA = ("char_lm_gru",)


def default_tasks():
    """The tasks of a full refresh, in table order."""
    return [t for t in TASKS if t not in EXTRA]


def workdir_of(task):
    return os.path.join(ROOT, "bench_out", "results", task)


# tasks whose config has the `keras_arch` variant: the Keras baseline's model on rnn_tf
KERAS_ARCH = ("char_lm_vanilla", "char_lm_gru", "char_lm_deep", "sentiment", "upos",
              "dates", "translation", "bach")


# tasks whose config has the `char_lm` variant: the recipe with pretrained character-LM
# states (rnn_tf.CharLMEmbedding, the LMs of configs/char_lm_english.py)
CHAR_LM = ("sentiment", "upos", "dates")


def run_ours(task, variant="", name=None, overrides=None):
    """Runs the task's pipeline (its config, or its `variant`, with `overrides`: field ->
    value) from nothing: into a fresh directory that replaces the workdir
    (bench_out/results/<name>, by default the task's name and the variant's) only when the
    run succeeds. (In the old workdir the pipeline would find its finished stages for the
    same config and skip them.)"""
    config_path = TASKS[task][0] + (f":{variant}" if variant else "")
    name = name or task + (f"_{variant}" if variant else "")
    workdir = workdir_of(name)
    fresh = workdir + ".new"
    shutil.rmtree(fresh, ignore_errors=True)
    flags = [f"--config.{k}={v}" for k, v in (overrides or {}).items()]
    cmd = [sys.executable, "-m", "pipelines.train", f"--config={config_path}",
           f"--workdir={fresh}", *flags]
    start = time.time()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.time() - start
    if proc.returncode:
        raise SystemExit(f"{task}: the pipeline failed (its run is in {fresh}):\n"
                         f"{proc.stderr[-3000:]}")
    if os.path.exists(workdir):
        shutil.rmtree(workdir + ".old", ignore_errors=True)
        os.replace(workdir, workdir + ".old")
    os.replace(fresh, workdir)
    shutil.rmtree(workdir + ".old", ignore_errors=True)
    from pipelines import common
    metrics = common.read_json(os.path.join(workdir, "evaluate", "metrics.json"))
    train = common.read_manifest(workdir, "train")["metrics"]
    return {"command": " ".join(["python -m pipelines.train", f"--config={config_path}",
                                 f"--workdir=runs/{name}", *flags]),
            "wall_seconds": round(wall, 1), "train_seconds": train.get("train_seconds"),
            "steps": train.get("steps"), "stopped_by": train.get("stopped_by"),
            "parameters": train.get("parameters"), "validation": metrics["validation"],
            "test": metrics["test"], "tail": proc.stdout.strip().splitlines()[-6:]}


def artifacts_digest(workdir):
    """sha256 of a workdir's transform artifacts: every file of the stage but its manifest
    (which holds times), .npz files by their arrays (np.savez stamps its zip members with
    the time of writing), other files by their bytes."""
    import numpy as np
    from pipelines import common
    out = common.stage_dir(workdir, "transform")
    h = hashlib.sha256()
    for name in sorted(os.listdir(out)):
        path = os.path.join(out, name)
        if name == "manifest.json" or not os.path.isfile(path):
            continue
        h.update(name.encode())
        if name.endswith(".npz"):
            with np.load(path) as arrays:
                for key in sorted(arrays.files):
                    a = arrays[key]
                    h.update(f"{key}/{a.dtype}/{a.shape}".encode())
                    h.update(np.ascontiguousarray(a).tobytes())
        else:
            with open(path, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


def baseline_key(fn_name, kwargs, budget, batch_size, digest):
    """What a shareable baseline's result depends on, as a hashable value."""
    return (fn_name, json.dumps(kwargs, sort_keys=True), float(budget), int(batch_size),
            digest)


def run_baselines(task, shared=None):
    """Trains and evaluates TASKS[task]'s baselines on the task's transform artifacts.

    shared: a dict kept across the tasks of one run, baseline_key -> (task, row); a
    baseline found there is not trained again (its row says which task's run made it).
    """
    from benchmarks import keras_baselines
    from pipelines import tasks
    config_path, _, _, _, baselines = TASKS[task]
    module = importlib.import_module(config_path[:-3].replace("/", "."))
    config = module.get_config()
    budget = config.train.time_budget_s
    workdir = workdir_of(task)
    rows = []
    digest = None                        # read the artifacts once per task, if at all
    for fn_name, kwargs in baselines:
        key = None
        if shared is not None and fn_name in keras_baselines.ARTIFACTS_ONLY:
            digest = digest or artifacts_digest(workdir)
            key = baseline_key(fn_name, kwargs, budget, config.train.batch_size, digest)
            if key in shared:
                source, row = shared[key]
                rows.append(dict(row, shared_from=source))
                continue
        fn = getattr(keras_baselines, fn_name)
        kwargs = dict(kwargs, task=tasks.get(config))
        start = time.time()
        rows.append(fn(config, workdir, budget, **kwargs))
        rows[-1]["budget_seconds"] = budget
        rows[-1]["wall_seconds"] = round(time.time() - start, 1)
        if key is not None:
            shared[key] = (task, rows[-1])
    return rows


def _fmt(value, metric):
    if value is None:
        return "-"
    return f"{value:.3f}" if metric.endswith(("accuracy", "exact_match")) else f"{value:.3f}" \
        if metric.startswith("nats") else f"{value:.1f}"


def _rows(results):
    """(task, data, metric, higher is better, row) of each task with a row, table order."""
    for task, (_, data, metric, higher, _) in TASKS.items():
        if results.get(task):
            yield task, data, metric, higher, results[task]


def _pair(run, metric):
    """'validation / test' of a run's metric."""
    return f"{_fmt(run['validation'][metric], metric)} / {_fmt(run['test'][metric], metric)}"


def table(results):
    lines = ["| task | data | model (ours) | params | wall, ours | metric | ours val / test "
             "| Keras baseline, same budget | params | baseline val / test | the baseline's "
             "model on rnn_tf, our pipeline, val / test | ours better | measured | command |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for task, data, metric, higher, r in _rows(results):
        o = r["ours"]
        for b in r["baselines"]:
            better = all((o[s][metric] > b[s][metric]) if higher else
                         (o[s][metric] < b[s][metric]) for s in ("validation", "test"))
            lines.append(
                f"| {task} | {data} | {r['model']} | {o['parameters']:,} | "
                f"{o['wall_seconds'] / 60:.1f} min | {metric} | "
                f"{_pair(o, metric)} | {b['model']}, {b['budget_seconds'] / 60:.0f} min"
                f"{' (the ' + b['shared_from'] + ' run)' if b.get('shared_from') else ''} | "
                f"{b['parameters']:,} | {_pair(b, metric)} | "
                f"{same_model(results, task, b, metric)} | "
                f"{'yes' if better else 'no'} | {measured(r)} | `{o['command']}` |")
    total, unrecorded = walls(results, default_tasks())
    if total:
        note = (f"; {', '.join(unrecorded)}: baseline wall not recorded, counted at its "
                f"budget" if unrecorded else "")
        lines.append(f"\nSum of the rows' wall times in a full refresh (ours and the "
                     f"baselines, a shared baseline once; {', '.join(EXTRA)} left out): "
                     f"{total / 60:.0f} min{note}.")
        every, _ = walls(results, list(TASKS))
        if every > total:
            lines.append(f"With {', '.join(EXTRA)} (`--all`): {every / 60:.0f} min.")
    with_lm = char_lm_table(results)
    if with_lm:
        lines += ["", "Each recipe without and with pretrained character-LM states "
                  "(`rnn_tf.CharLMEmbedding` on the LMs of configs/char_lm_english.py), one "
                  "after the other in one run, for the same wall-time budget "
                  "(`python benchmarks/results_table.py --char-lm`):", "", with_lm]
    refresh = results.get("_full_refresh")
    if refresh and refresh.get("revision"):   # one without its provenance is not shown
        m = refresh["machine"]
        lines.append(f"\nLast full refresh ({', '.join(refresh['tasks'])}; ours and the "
                     f"baselines): {refresh['wall_seconds'] / 60:.0f} min, "
                     f"{refresh['revision'][:7]}, {refresh['date']} UTC, {m['cores']}-core "
                     f"{m['cpu']}.")
    return "\n".join(lines)


def run_keras_arch(task, provenance):
    """The task's `keras_arch` run (the Keras baseline's model built from rnn_tf, through
    our pipeline), with the baseline's model name and its provenance."""
    print(f"[{task}] the baseline's model on rnn_tf ...", flush=True)
    row_start = record.now()
    row = run_ours(task, "keras_arch")
    module = importlib.import_module("configs." + os.path.basename(TASKS[task][0])[:-3])
    row["model"] = module.get_config("keras_arch").model.keras_arch
    row["provenance"] = dict(provenance, started_utc=row_start, finished_utc=record.now())
    print(f"  {row['validation']} / {row['test']}", flush=True)
    return row


def run_char_lm(task, provenance):
    """The task's recipe without and then with the pretrained character-LM states (its
    `char_lm` variant), one after the other in one run, so that both meet the same
    machine speed under the same wall-time budget; with the sha256 of the LM files."""
    from pipelines.tasks import pretrained
    module = importlib.import_module("configs." + os.path.basename(TASKS[task][0])[:-3])
    config = module.get_config("char_lm")
    start = record.now()
    print(f"[{task}] without the character-LM states ...", flush=True)
    without = run_ours(task, name=task + "_without_char_lm")
    print(f"  {without['validation']} / {without['test']}", flush=True)
    print(f"[{task}] with the character-LM states ...", flush=True)
    with_lm = run_ours(task, "char_lm")
    print(f"  {with_lm['validation']} / {with_lm['test']}", flush=True)
    return {"without": without, "with": with_lm,
            "budget_seconds": config.train.time_budget_s,
            "trainable": bool(config.model.char_lm_trainable),
            "char_lm_files": pretrained.files_digest(config.model.char_lm)["char_lm_files"],
            "provenance": dict(provenance, started_utc=start, finished_utc=record.now())}


def char_lm_table(results):
    """The with/without rows of the tasks that can read pretrained character-LM states;
    '' when none has been run."""
    rows = [(t, results[t]["char_lm"]) for t in CHAR_LM if results.get(t, {}).get("char_lm")]
    if not rows:
        return ""
    lines = ["| task | metric | without pretrained char-LM states, val / test | with them, "
             "val / test | words unseen in train, val / test: without → with | steps "
             "without / with | budget | measured | command (with) |",
             "|---|---|---|---|---|---|---|---|---|"]
    unseen = "unseen_word_accuracy"
    for task, r in rows:
        metric = TASKS[task][2]
        lm = "fine-tuned" if r["trainable"] else "frozen"
        words = (f"{_pair(r['without'], unseen)} → {_pair(r['with'], unseen)}"
                 if unseen in r["with"]["validation"] else "-")
        lines.append(f"| {task} | {metric} | {_pair(r['without'], metric)} | "
                     f"{_pair(r['with'], metric)} ({lm}) | {words} | "
                     f"{r['without']['steps']:,} / "
                     f"{r['with']['steps']:,} | {r['budget_seconds'] / 60:.0f} min | "
                     f"{measured(r)} | `{r['with']['command']}` |")
    return "\n".join(lines)


def run_step_matched(task, provenance, against, steps, seed, previous=None):
    """Our recipe stopped at `steps` (train.stop_at_step, no time budget; the learning-rate
    schedule still runs over train.steps) with train.seed=`seed`, beside the row that
    `against`'s benchmarks/results.json holds for the task, which made `steps` steps in
    its budget on its day's machine: the training loop's change measured apart from the
    machine's speed. The reference's step count is the caller's (older rows did not record
    it). The run joins the runs of `previous` (the stored entry) that have the same
    reference, replacing one of the same seed: several seeds give the loop's spread."""
    def git(*a):
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout
    try:
        revision = git("rev-parse", "--verify", against + "^{commit}").strip()
        old = json.loads(git("show", f"{revision}:benchmarks/results.json"))[task]
    except (subprocess.CalledProcessError, KeyError, ValueError) as e:
        raise SystemExit(f"error: --step-matched={against}: no {task} row in that "
                         f"revision's benchmarks/results.json ({type(e).__name__}); name "
                         "a commit that has one") from None
    reference = {"revision": revision, "date": old.get("date"), "steps": steps,
                 "command": old["ours"]["command"], "validation": old["ours"]["validation"],
                 "test": old["ours"]["test"]}
    start = record.now()
    print(f"[{task}] ours, seed {seed}, stopped at step {steps:,} ...", flush=True)
    run = run_ours(task, name=task + "_step_matched",
                   overrides={"train.stop_at_step": steps, "train.time_budget_s": 0,
                              "train.seed": seed})
    print(f"  {run['validation']} / {run['test']} in {run['steps']:,} steps", flush=True)
    run.update(seed=seed, provenance=dict(provenance, started_utc=start,
                                          finished_utc=record.now()))
    runs = [r for r in step_matched_runs(previous)
            if previous["reference"] == reference and r["seed"] != seed] if previous else []
    return {"reference": reference, "runs": sorted(runs + [run], key=lambda r: r["seed"])}


def step_matched_runs(entry):
    """An entry's runs, each with its seed and provenance (an entry of one run, stored
    before runs had seeds, ran the config's train.seed, 0)."""
    if "runs" in entry:
        return entry["runs"]
    return [dict(entry["run"], seed=0, provenance=entry["provenance"])]


def step_matched_table(results):
    """The rows re-run to the step count of an older run of theirs, one line per seed
    and their mean; '' when none is."""
    rows = [(t, results[t]["step_matched"]) for t in TASKS
            if results.get(t, {}).get("step_matched")]
    if not rows:
        return ""
    lines = ["| task | metric | steps | that older run: revision, date, val / test | seed | "
             "this loop, val / test (steps run) | measured | command |",
             "|---|---|---|---|---|---|---|---|"]
    for task, r in rows:
        metric, ref = TASKS[task][2], r["reference"]
        older = f"{ref['revision'][:7]}, {ref['date']}: {_pair(ref, metric)}"
        runs = step_matched_runs(r)
        for run in runs:
            how = {"early_stopping": ", early stopping"}.get(run.get("stopped_by"), "")
            lines.append(f"| {task} | {metric} | {ref['steps']:,} | {older} | {run['seed']} "
                         f"| {_pair(run, metric)} ({run['steps']:,}{how}) | {measured(run)} "
                         f"| `{run['command']}` |")
        if len(runs) > 1:
            mean = {s: {metric: sum(x[s][metric] for x in runs) / len(runs)}
                    for s in ("validation", "test")}
            lines.append(f"| {task} | {metric} | {ref['steps']:,} | {older} | mean of "
                         f"{len(runs)} | {_pair(mean, metric)} | | |")
    return "\n".join(lines)


def same_model(results, task, baseline, metric):
    """The row's `keras_arch` run's val / test (the baseline's model built from rnn_tf,
    trained by our pipeline with the row's recipe and budget) beside the baseline whose
    model it is; '-' where not run."""
    k = results[task].get("keras_arch")
    if not k or k.get("model") != baseline["model"]:
        return "-"
    return f"{_pair(k, metric)} ({k['provenance']['revision'][:7]})"


def measured(row):
    """Where a row came from: its revision (and a dirty tree), UTC date and CPU, from the
    provenance the script recorded with it; rows refreshed before the script recorded it
    say so. A row whose baselines were re-run alone (--baselines-only) names both runs."""
    p = row.get("provenance")
    if not p:
        return f"{row.get('date', '?')} UTC, revision not recorded"
    where = lambda p: (f"{p['revision'][:7]}{' (dirty)' if p['dirty'] else ''}, "
                       f"{p['started_utc'][:16].replace('T', ' ')} UTC")
    ours = row.get("ours_provenance")
    runs = (f"ours {where(ours)}; baselines {where(p)}" if ours else where(p))
    return f"{runs}, {p['machine']['cores']}-core {p['machine']['cpu']}"


def expected_paragraph(task, results):
    """The 'Expected:' paragraph of the task's config docstring, from its results row."""
    config_path, _, metric, _, _ = TASKS[task]
    r = results[task]
    o = r["ours"]
    against = "; ".join(
        f"{b['model']} {_fmt(b['validation'][metric], metric)} / "
        f"{_fmt(b['test'][metric], metric)}" for b in r["baselines"])
    text = (f"Expected: validation {_fmt(o['validation'][metric], metric)}, test "
            f"{_fmt(o['test'][metric], metric)} {metric} in {o['wall_seconds'] / 60:.1f} min "
            f"on 2 cores, against the Keras baseline(s) at the same budget: {against} (the "
            f"`{task}` row of benchmarks/results.json, `python benchmarks/results_table.py "
            f"--task={task}`; {measured(r)}).")
    lm = r.get("char_lm")
    if lm:
        text += (f" With the frozen pretrained character-LM states (`:char_lm`), against "
                 f"this recipe without them in the same run: validation "
                 f"{_fmt(lm['with']['validation'][metric], metric)} against "
                 f"{_fmt(lm['without']['validation'][metric], metric)}, test "
                 f"{_fmt(lm['with']['test'][metric], metric)} against "
                 f"{_fmt(lm['without']['test'][metric], metric)} (`python "
                 f"benchmarks/results_table.py --char-lm`; {measured(lm)}).")
    return textwrap.fill(text, width=92)


def write_configs(results, tasks):
    """Rewrites each task's config docstring 'Expected:' paragraph from its results row."""
    for task in tasks:
        record.replace_paragraph(os.path.join(ROOT, TASKS[task][0]), "Expected:",
                                 expected_paragraph(task, results))


def walls(results, tasks):
    """(seconds, tasks with an unrecorded baseline wall): the wall times of `tasks`'
    rows, ours (and the keras_arch run) and their baselines, each baseline run once. A baseline shared from a row
    outside `tasks` counts that row's run, as a refresh of `tasks` alone would train it;
    baselines of the same model, data and budget count once, as one run would share them
    (rows refreshed in different runs each keep their own)."""
    total, unrecorded, seen = 0.0, [], set()
    for task in tasks:
        if task not in results:
            continue
        total += results[task]["ours"]["wall_seconds"]
        total += (results[task].get("keras_arch") or {}).get("wall_seconds", 0.0)
        for b in results[task]["baselines"]:
            source = b.get("shared_from") or task
            key = (b["model"], TASKS[task][1], b["budget_seconds"])
            if key in seen:
                continue
            seen.add(key)
            if b.get("shared_from"):
                b = next((x for x in results.get(source, {}).get("baselines", [])
                          if x["model"] == b["model"]), b)
            if b.get("wall_seconds") is None:
                unrecorded.append(task)
            total += b.get("wall_seconds") or b["budget_seconds"]
    return total, unrecorded


def model_description(task):
    config_path = TASKS[task][0]
    module = importlib.import_module(config_path[:-3].replace("/", "."))
    m = module.get_config().model
    return ", ".join(f"{k}={v}" for k, v in m.items() if k in (
        "cell", "units", "num_layers", "bidirectional", "char_units", "attention") or (
        k in ("residual", "dropout", "output_dropout", "lexicon") and v))


def summary(results):
    """The README's table: one line per task, ours against the best Keras baseline of the
    same run (best by validation)."""
    lines = ["| task | metric | rnn_tf recipe, val / test | best Keras baseline, same budget, "
             "val / test | that model on rnn_tf, val / test | measured |",
             "|---|---|---|---|---|---|"]
    for task, _, metric, higher, r in _rows(results):
        sign = 1 if higher else -1
        b = max(r["baselines"], key=lambda b: sign * b["validation"][metric])
        lines.append(f"| {task} | {metric} | {_pair(r['ours'], metric)} | {b['model']}: "
                     f"{_pair(b, metric)} | {same_model(results, task, b, metric)} | "
                     f"{measured(r)} |")
    with_lm = char_lm_table(results)
    if with_lm:
        lines += ["", "The same recipe without and with pretrained character-LM states "
                  "(configs/char_lm_english.py), one after the other in one run:", "",
                  with_lm]
    return "\n".join(lines)


def write_documents(results):
    """The README's summary and RESULTS.md's full table, from `results`."""
    record.write_section("results", summary(results))
    record.write_section("results_full", table(results))
    record.write_section("step_matched", step_matched_table(results))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", action="append", choices=sorted(TASKS),
                        help="refresh only this task (repeatable); default: every task "
                             f"but {', '.join(EXTRA)}")
    parser.add_argument("--all", action="store_true",
                        help=f"every task, {', '.join(EXTRA)} included")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--keras-arch", action="store_true",
                        help="run only the tasks' keras_arch variants (the baseline's model "
                             f"built from rnn_tf; {', '.join(KERAS_ARCH)}) and keep the "
                             "other columns")
    parser.add_argument("--char-lm", action="store_true",
                        help="run only the tasks' recipes without and with pretrained "
                             f"character-LM states ({', '.join(CHAR_LM)}; the LMs of "
                             "configs/char_lm_english.py) and keep the other columns")
    parser.add_argument("--step-matched", metavar="REVISION",
                        help="run only our recipe of each --task, stopped at --steps, "
                             "beside the row of REVISION's results.json that made that many "
                             "steps (the loop measured apart from the machine's speed)")
    parser.add_argument("--steps", type=int, help="with --step-matched: the step count")
    parser.add_argument("--seed", type=int, default=0,
                        help="with --step-matched: train.seed of the run (a run of another "
                             "seed joins the stored ones)")
    parser.add_argument("--render", action="store_true",
                        help="run nothing: rewrite the README's and RESULTS.md's tables and "
                             "the configs' Expected paragraphs from benchmarks/results.json")
    parser.add_argument("--no-baselines", action="store_true",
                        help="refresh our rows only and keep the stored baselines")
    parser.add_argument("--baselines-only", action="store_true",
                        help="rerun only the Keras baselines, on the stored run of ours "
                             "(its artifacts in bench_out/results/<task>)")
    args = parser.parse_args()
    if args.list:
        print("\n".join(TASKS))
        return
    results = {}
    if os.path.exists(RESULTS):
        with open(RESULTS) as f:
            results = json.load(f)
    if args.render:
        write_documents(results)
        write_configs(results, [t for t in TASKS if t in results])
        print(summary(results))
        return
    if args.step_matched:
        if not args.task or not args.steps or args.steps < 1:
            raise SystemExit("error: --step-matched needs --task=<name> and --steps=<the "
                             "older run's step count, >= 1>")
        provenance = record.start()
        for task in args.task:
            if task not in results:
                raise SystemExit(f"error: {task} has no row yet; run --task={task} first")
            results[task]["step_matched"] = run_step_matched(
                task, provenance, args.step_matched, args.steps, args.seed,
                results[task].get("step_matched"))
            save(results)
            write_documents(results)
        print(step_matched_table(results))
        return
    if args.keras_arch or args.char_lm:
        key, run, allowed = (("keras_arch", run_keras_arch, KERAS_ARCH) if args.keras_arch
                             else ("char_lm", run_char_lm, CHAR_LM))
        provenance = record.start()
        for task in [t for t in (args.task or allowed) if t in allowed]:
            if task not in results:
                raise SystemExit(f"error: {task} has no row yet; run --task={task} first")
            results[task][key] = run(task, provenance)
            save(results)
            write_configs(results, [task])
            write_documents(results)
        print(summary(results) if args.keras_arch else table(results))
        return
    if args.all and args.task:
        raise SystemExit("error: --all runs every task; pass it without --task")
    todo = args.task or (list(TASKS) if args.all else default_tasks())
    full = not args.task and not args.no_baselines and not args.baselines_only
    shared = {}
    run_start = time.time()
    provenance = record.start()
    for task in todo:
        row_start = record.now()
        if args.baselines_only and task in results:
            ours = results[task]["ours"]
        else:
            print(f"[{task}] ours ...", flush=True)
            ours = run_ours(task)
            print(f"  {ours['validation']} / {ours['test']} in {ours['wall_seconds']} s",
                  flush=True)
        if args.no_baselines and task in results:
            baselines = results[task]["baselines"]
        else:
            print(f"[{task}] Keras baseline(s) ...", flush=True)
            baselines = run_baselines(task, shared)
            for b in baselines:
                print(f"  {b['model']}: {b['validation']} / {b['test']}", flush=True)
        keras_arch = (run_keras_arch(task, provenance) if task in KERAS_ARCH
                      and not args.no_baselines and not args.baselines_only
                      else results.get(task, {}).get("keras_arch"))
        previous = results.get(task, {})
        results[task] = {"model": model_description(task), "ours": ours,
                         "baselines": baselines, "keras_arch": keras_arch,
                         "char_lm": results.get(task, {}).get("char_lm"),   # its own run
                         "step_matched": results.get(task, {}).get("step_matched"),
                         "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                         "provenance": dict(provenance, started_utc=row_start,
                                            finished_utc=record.now())}
        if args.baselines_only and previous.get("provenance"):   # ours was measured then
            results[task]["ours_provenance"] = previous.get("ours_provenance",
                                                            previous["provenance"])
        if full and task == todo[-1]:
            results["_full_refresh"] = {
                "wall_seconds": round(time.time() - run_start, 1), "tasks": todo,
                "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                **{k: provenance[k] for k in ("revision", "dirty", "machine", "command")}}
        save(results)
        write_configs(results, [task])
        write_documents(results)
    print(table(results))
    print(f"this run: {(time.time() - run_start) / 60:.1f} min")


def save(results):
    tmp = RESULTS + ".tmp"
    with open(tmp, "w") as f:
        json.dump(results, f, indent=1, sort_keys=True, default=str)
    os.replace(tmp, RESULTS)


if __name__ == "__main__":
    main()
