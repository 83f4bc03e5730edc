"""benchmarks/results_table.py: shared baselines within a run, the artifact digest, the
table it writes."""

import json
import os
import time

import numpy as np

from benchmarks import keras_baselines
from benchmarks import results_table as rt


def _write_artifacts(workdir, train):
    out = os.path.join(workdir, "transform")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "vocab.json"), "w") as f:
        json.dump(["a", "b"], f)
    for split in ("train", "validation", "test"):
        np.savez(os.path.join(out, f"{split}.npz"), inputs=train)


def test_digest_follows_the_arrays_not_the_file_times(tmp_path):
    _write_artifacts(str(tmp_path), np.arange(6, dtype=np.int32))
    first = rt.artifacts_digest(str(tmp_path))
    time.sleep(2.1)      # zip members carry a 2-s resolution time stamp
    _write_artifacts(str(tmp_path), np.arange(6, dtype=np.int32))
    assert rt.artifacts_digest(str(tmp_path)) == first
    _write_artifacts(str(tmp_path), np.arange(1, 7, dtype=np.int32))
    assert rt.artifacts_digest(str(tmp_path)) != first


def test_digest_reads_the_supervised_tasks_layout(tmp_path):
    """The supervised tasks keep meta.json (not vocab.json) beside the arrays; the
    manifest's times do not count, the metadata does."""
    out = tmp_path / "transform"
    out.mkdir()
    for split in ("train", "validation", "test"):
        np.savez(str(out / f"{split}.npz"), ids=np.arange(4))
    (out / "meta.json").write_text('{"vocab": ["a"]}')
    (out / "manifest.json").write_text('{"finished": "1"}')
    first = rt.artifacts_digest(str(tmp_path))
    (out / "manifest.json").write_text('{"finished": "2"}')
    assert rt.artifacts_digest(str(tmp_path)) == first
    (out / "meta.json").write_text('{"vocab": ["b"]}')
    assert rt.artifacts_digest(str(tmp_path)) != first


def test_equal_baselines_train_once_per_run(monkeypatch):
    calls = []

    def fake_char_lm(config, workdir, budget, task, cell="SimpleRNN", units=512):
        calls.append((workdir, cell, units, budget))
        return {"model": f"{cell}({units})", "parameters": 1, "train_seconds": budget,
                "validation": {"nats_per_char": 1.5}, "test": {"nats_per_char": 1.6}}

    monkeypatch.setattr(keras_baselines, "char_lm", fake_char_lm)
    monkeypatch.setattr(rt, "artifacts_digest", lambda workdir: "same")
    shared = {}
    gru = rt.run_baselines("char_lm_gru", shared)
    deep = rt.run_baselines("char_lm_deep", shared)
    assert len(calls) == 1
    assert deep[0]["shared_from"] == "char_lm_gru"
    assert deep[0]["validation"] == gru[0]["validation"]
    assert "shared_from" not in gru[0] and gru[0]["wall_seconds"] >= 0
    # a different budget, batch size or data is a different baseline
    rt.run_baselines("char_lm_vanilla", shared)
    assert len(calls) == 2
    monkeypatch.setattr(rt, "artifacts_digest", lambda workdir: "other")
    rt.run_baselines("char_lm_deep", shared)
    assert len(calls) == 3
    # without a shared dict (one task per run) every baseline trains
    rt.run_baselines("char_lm_deep")
    assert len(calls) == 4


def test_baselines_that_read_the_model_config_are_never_shared():
    for _, (_, _, _, _, baselines) in rt.TASKS.items():
        for fn_name, _ in baselines:
            source = open(keras_baselines.__file__).read()
            body = source.split(f"def {fn_name}(")[1].split("\ndef ")[0]
            if fn_name in keras_baselines.ARTIFACTS_ONLY:
                assert "config.model" not in body, fn_name


def test_table_names_a_shared_baseline_and_the_full_refresh():
    row = {"wall_seconds": 600.0, "parameters": 10, "validation": {"nats_per_char": 1.4},
           "test": {"nats_per_char": 1.5}, "command": "python -m pipelines.train ..."}
    base = {"model": "Embedding(64) + GRU(512)", "parameters": 20, "budget_seconds": 1200.0,
            "validation": {"nats_per_char": 1.5}, "test": {"nats_per_char": 1.6}}
    results = {
        "char_lm_gru": {"model": "cell=gru", "ours": row,
                        "baselines": [dict(base, wall_seconds=1500.0)]},
        "char_lm_deep": {"model": "cell=vanilla", "ours": row,
                         "baselines": [dict(base, shared_from="char_lm_gru")]},
        "_full_refresh": {"wall_seconds": 7260.0, "date": "2026-11-26 20:00",
                          "tasks": ["char_lm_deep"], "revision": "0123456789abcdef",
                          "machine": {"cpu": "AMD EPYC", "cores": 2}}}
    text = rt.table(results)
    lines = [l for l in text.splitlines() if l.startswith("| char_lm")]
    assert len(lines) == 2
    assert "(the char_lm_gru run)" in lines[1] and "run)" not in lines[0]
    assert all("| yes |" in l for l in lines)
    assert ("Last full refresh (char_lm_deep; ours and the baselines): 121 min, 0123456, "
            "2026-11-26 20:00 UTC, 2-core AMD EPYC.") in text
    # a refresh recorded before refreshes carried their revision is not shown
    old = dict(results, _full_refresh={"wall_seconds": 7260.0, "date": "2026-11-26 20:00",
                                       "tasks": ["char_lm_deep"]})
    assert "Last full refresh" not in rt.table(old)
    # a full refresh leaves char_lm_gru out: char_lm_deep's 10 min and the baseline it
    # would then train itself (25 min, the shared run's wall); --all adds char_lm_gru's 10
    assert ("Sum of the rows' wall times in a full refresh (ours and the baselines, a "
            "shared baseline once; char_lm_gru left out): 35 min.") in text
    assert "With char_lm_gru (`--all`): 45 min." in text
    # refreshed in separate runs, each row keeps its own GRU(512); --all would share one
    results["char_lm_deep"]["baselines"] = [dict(base, wall_seconds=1260.0)]
    text = rt.table(results)
    assert "char_lm_gru left out): 31 min." in text and "(`--all`): 45 min." in text
    results["char_lm_deep"]["baselines"] = [dict(base, shared_from="char_lm_gru")]
    del results["char_lm_gru"]["baselines"][0]["wall_seconds"]
    assert ("char_lm_gru left out): 30 min; char_lm_deep: baseline wall not recorded, "
            "counted at its budget.") in rt.table(results)


def test_step_matched_rows_set_each_seed_beside_the_older_run():
    """--step-matched's rows: the older revision's figures at its step count beside this
    loop's runs stopped there, one line per seed and their mean; an entry stored before
    runs had seeds reads as seed 0; no row when none was run."""
    assert rt.step_matched_table({"translation": {"ours": {}}}) == ""
    machine = {"cpu": "AMD EPYC", "cores": 2}
    provenance = {"revision": "1234567" + "0" * 33, "dirty": False,
                  "started_utc": "2026-12-07T12:00:00+00:00", "machine": machine}
    reference = {"revision": "abad60c" + "0" * 33, "date": "2026-11-27 11:47",
                 "steps": 7000, "validation": {"chrf": 60.75}, "test": {"chrf": 60.5}}
    command = ("python -m pipelines.train --config=configs/translation.py "
               "--workdir=runs/translation_step_matched --config.train.stop_at_step=7000")
    run = {"steps": 6500, "validation": {"chrf": 59.4}, "test": {"chrf": 59.36},
           "command": command}
    old = {"translation": {"step_matched": {"reference": reference, "run": run,
                                            "provenance": provenance}}}
    text = rt.step_matched_table(old)
    row = [l for l in text.splitlines() if l.startswith("| translation |")]
    assert len(row) == 1
    assert ("| 7,000 | abad60c, 2026-11-27 11:47: 60.8 / 60.5 | 0 | 59.4 / 59.4 (6,500) |"
            in row[0])
    assert "1234567" in row[0] and "--config.train.stop_at_step=7000" in row[0]
    second = dict(run, seed=1, steps=7000, stopped_by="steps",
                  validation={"chrf": 60.4}, test={"chrf": 60.2}, provenance=provenance)
    first = dict(run, seed=0, stopped_by="early_stopping", provenance=provenance)
    new = {"translation": {"step_matched": {"reference": reference,
                                            "runs": [first, second]}}}
    rows = [l for l in rt.step_matched_table(new).splitlines()
            if l.startswith("| translation |")]
    assert len(rows) == 3
    assert "| 0 | 59.4 / 59.4 (6,500, early stopping) |" in rows[0]
    assert "| 1 | 60.4 / 60.2 (7,000) |" in rows[1]
    assert "| mean of 2 | 59.9 / 59.8 |" in rows[2]


def test_a_full_refresh_leaves_out_only_the_extra_rows():
    assert rt.EXTRA and set(rt.EXTRA) < set(rt.TASKS)
    assert rt.default_tasks() == [t for t in rt.TASKS if t not in rt.EXTRA]
    for required in ("char_lm_vanilla", "char_lm_deep", "sentiment", "upos", "dates",
                     "translation", "bach"):
        assert required in rt.default_tasks()


def test_ours_runs_from_nothing_and_replaces_the_workdir_only_on_success(tmp_path, monkeypatch):
    """A refresh must train again: in the old workdir the pipeline would find its finished
    stages for the same config and skip them."""
    import subprocess
    import types
    import pytest

    workdir = str(tmp_path / "upos")
    monkeypatch.setattr(rt, "workdir_of", lambda task: workdir)
    os.makedirs(os.path.join(workdir, "train"))
    open(os.path.join(workdir, "train", "stale"), "w").close()
    seen = []

    def fake_run(cmd, cwd, capture_output, text, rc=0):
        target = [a for a in cmd if a.startswith("--workdir=")][0].split("=", 1)[1]
        seen.append(target)
        assert not os.path.exists(target)          # nothing of an earlier run
        for stage, name, body in (("evaluate", "metrics.json",
                                   {"validation": {"accuracy": 0.9}, "test": {"accuracy": 0.8}}),
                                  ("train", "manifest.json",
                                   {"metrics": {"train_seconds": 1.0, "parameters": 3}})):
            os.makedirs(os.path.join(target, stage), exist_ok=True)
            with open(os.path.join(target, stage, name), "w") as f:
                json.dump(body, f)
        return types.SimpleNamespace(returncode=rc, stdout="done\n", stderr="boom")

    monkeypatch.setattr(subprocess, "run", fake_run)
    row = rt.run_ours("upos")
    assert seen[0] != workdir and row["test"] == {"accuracy": 0.8}
    assert not os.path.exists(os.path.join(workdir, "train", "stale"))
    assert os.path.exists(os.path.join(workdir, "evaluate", "metrics.json"))
    assert not os.path.exists(workdir + ".new") and not os.path.exists(workdir + ".old")

    # a failed run leaves the previous workdir as it was
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: fake_run(*a, **k, rc=1))
    open(os.path.join(workdir, "train", "kept"), "w").close()
    with pytest.raises(SystemExit, match="the pipeline failed"):
        rt.run_ours("upos")
    assert os.path.exists(os.path.join(workdir, "train", "kept"))


def test_best_weights_puts_back_the_epoch_with_the_lowest_validation_loss():
    import keras
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    callback = keras_baselines.best_weights()
    callback.set_model(model)
    kernels = [np.full((2, 1), v, np.float32) for v in (1.0, 2.0, 3.0, 4.0)]
    for epoch, (kernel, val_loss) in enumerate(zip(kernels, (3.0, 1.0, 2.0, None))):
        model.set_weights([kernel, np.zeros(1, np.float32)])
        callback.on_epoch_end(epoch, {"val_loss": val_loss} if val_loss else {})
    assert not getattr(model, "stop_training", False)      # never stops early
    callback.on_train_end()
    np.testing.assert_array_equal(model.get_weights()[0], kernels[1])
    assert callback.best_epoch == 1


def test_each_config_states_the_result_of_its_results_row():
    import json
    from benchmarks import results_table
    with open(results_table.RESULTS) as f:
        results = json.load(f)
    for task, (config_path, *_) in results_table.TASKS.items():
        with open(os.path.join(results_table.ROOT, config_path)) as f:
            assert results_table.expected_paragraph(task, results) in f.read(), task


def test_the_keras_arch_column_shows_the_rows_own_run():
    row = {"wall_seconds": 600.0, "parameters": 10, "validation": {"nats_per_char": 1.4},
           "test": {"nats_per_char": 1.5}, "command": "python -m pipelines.train ..."}
    base = {"model": "Embedding(64) + GRU(512)", "parameters": 20, "budget_seconds": 1200.0,
            "validation": {"nats_per_char": 1.5}, "test": {"nats_per_char": 1.6},
            "wall_seconds": 1250.0}
    same = {"model": "Embedding(64) + GRU(512)", "wall_seconds": 1300.0,
            "validation": {"nats_per_char": 1.45}, "test": {"nats_per_char": 1.55},
            "provenance": {"revision": "abcdef0123"}}
    results = {"char_lm_deep": {"model": "d", "ours": row, "baselines": [base],
                                "keras_arch": same},
               "char_lm_vanilla": {"model": "v", "ours": row, "baselines": [
                   dict(base, model="Embedding(64) + SimpleRNN(512)")], "keras_arch": same}}
    lines = {l.split(" | ")[0][2:]: l for l in rt.table(results).splitlines()
             if l.startswith("| ")}
    assert "| 1.450 / 1.550 (abcdef0) |" in lines["char_lm_deep"]
    assert "| - |" in lines["char_lm_vanilla"]          # a run of another model
    # its wall time counts in a refresh of the rows: 600 + 1250 + 1300, twice
    assert "char_lm_gru left out): 105 min" in rt.table(results)
