"""Benchmark records: every generated section of the README, RESULTS.md and docs/ is the
table of its committed JSON record, and each record says where it came from."""

import json
import os

from benchmarks import mirrored_scaling, record

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_mirrored_scaling_section_is_the_table_of_its_record():
    with open(mirrored_scaling.RECORD) as f:
        rec = json.load(f)
    for key in ("revision", "dirty", "started_utc", "finished_utc", "machine", "versions",
                "command", "measurements"):
        assert key in rec, key
    assert {m["variant"] for m in rec["measurements"]} == set(mirrored_scaling.VARIANTS)
    text = record.read_document("mirrored_scaling")
    assert mirrored_scaling.document_section(text, rec) == text


def test_main_job_line_is_the_line_of_its_record():
    from benchmarks import main_job
    with open(main_job.RECORD) as f:
        rec = json.load(f)
    assert {"revision", "dirty", "started_utc", "finished_utc", "machine", "command",
            "result"} <= set(rec)
    text = record.read_document("main_job")
    assert f"<!-- main_job -->\n{main_job.line(rec)}\n<!-- /main_job -->" in text
    with open(os.path.join(ROOT, "configs", "default.py")) as f:
        assert main_job.expected_paragraph(rec) in f.read()


def test_throughput_and_latency_sections_are_the_tables_of_their_records():
    from benchmarks import generation_latency, train_throughput
    text = record.read_document("train_throughput")
    with open(os.path.join(ROOT, "benchmarks", "records", "train_throughput.json")) as f:
        rec = json.load(f)
    assert record.section(text, "train_throughput", train_throughput.table(rec)) == text
    with open(train_throughput.BY_MACHINE) as f:
        by_machine = json.load(f)["machines"]
    assert train_throughput.machine_key(rec) in by_machine    # the table's run is filed
    assert record.section(text, "train_throughput_by_machine",
                          train_throughput.machines_table(by_machine)) == text
    text = record.read_document("generation_latency")
    with open(generation_latency.RECORD) as f:
        rec = json.load(f)
    assert record.section(text, "generation_latency", generation_latency.table(rec)) == text


def _throughput_run(cpu, started, ratios):
    """A vanilla train_throughput record of the four configs on machine `cpu` whose
    rnn_tf/keras ratio per round is ratios[config] (a list, one per round)."""
    rows = []
    for config, per_round in ratios.items():
        rows.append({"config": config, "variant": "keras", "reps": [100.0] * len(per_round),
                     "ratio_vs_keras": 1.0})
        rows.append({"config": config, "variant": "rnn_tf",
                     "reps": [100.0 * r for r in per_round],
                     "ratio_vs_keras": sorted(per_round)[len(per_round) // 2]})
    return {"cell": "vanilla", "repeats": 3, "rows": rows, "revision": "a" * 40,
            "dirty": False, "started_utc": started, "command": "train_throughput.py",
            "versions": {}, "machine": {"cpu": cpu, "cores": 2, "memory_gib": 8.0}}


def test_the_by_machine_table_keeps_one_row_per_machine_and_names_what_differs(
        tmp_path, monkeypatch):
    from benchmarks import train_throughput
    monkeypatch.setattr(train_throughput, "BY_MACHINE", str(tmp_path / "by_machine.json"))
    same = {"char": [1.4, 1.5, 1.6], "seed": [1.6, 1.7, 1.8], "long": [2.3, 2.4, 2.5]}
    first = train_throughput.file_by_machine(_throughput_run(
        "CPU A", "2026-01-01T00:00:00+00:00", {**same, "wide": [1.5, 1.55, 1.6]}))
    table = train_throughput.machines_table(first)
    assert "| CPU A, 2 cores, 8.0 GiB | 1.50× (1.40 to 1.60) |" in table
    assert "One machine has run it" in table
    older_b = _throughput_run("CPU B", "2026-01-02T00:00:00+00:00",
                              {**same, "wide": [0.7, 0.8, 0.9]})
    newer_b = _throughput_run("CPU B", "2026-01-03T00:00:00+00:00",
                              {**same, "wide": [1.0, 1.1, 1.2]})
    train_throughput.file_by_machine(newer_b)
    both = train_throughput.file_by_machine(older_b)    # older than the filed run: kept out
    assert both["CPU B, 2 cores, 8.0 GiB"]["started_utc"] == newer_b["started_utc"]
    table = train_throughput.machines_table(both)
    rows = [line for line in table.splitlines() if line.startswith("| CPU")]
    assert [r.split(" |")[0] for r in rows] == ["| CPU A, 2 cores, 8.0 GiB",
                                                "| CPU B, 2 cores, 8.0 GiB"]
    assert "| 1.10× (1.00 to 1.20) |" in rows[1]
    # wide's ranges (1.40-1.60 against 1.00-1.20) do not overlap; the others are equal
    assert table.endswith("Differs by machine beyond the per-round spread: "
                          "wide (1.10× to 1.55×).")
    with open(train_throughput.BY_MACHINE) as f:
        assert set(json.load(f)["machines"]) == set(both)


def test_export_latency_section_is_the_table_of_its_record():
    """docs/speed.md's export table is its record's, and the record measured the library's
    unroll under every process setting, beside the in-process generator."""
    from benchmarks import export_latency
    from rnn_tf import served_sampling
    with open(export_latency.RECORD) as f:
        rec = json.load(f)
    assert {"revision", "dirty", "started_utc", "machine", "command", "in_process",
            "rows"} <= set(rec)
    library = {r["setting"] for r in rec["rows"] if r["library"]}
    assert library == set(export_latency.SETTINGS)
    assert {r["unroll"] for r in rec["rows"] if r["library"]} == {served_sampling.UNROLL}
    text = record.read_document("export_latency")
    assert record.section(text, "export_latency", export_latency.table(rec)) == text


def test_results_sections_are_the_tables_of_results_json():
    from benchmarks import results_table
    with open(results_table.RESULTS) as f:
        results = json.load(f)
    text = record.read_document("results")
    assert record.section(text, "results", results_table.summary(results)) == text
    text = record.read_document("results_full")
    assert record.section(text, "results_full", results_table.table(results)) == text
    text = record.read_document("step_matched")
    assert record.section(text, "step_matched",
                          results_table.step_matched_table(results)) == text


def test_every_generated_section_is_in_its_document_once():
    for name, path in record.DOCUMENTS.items():
        text = record.read_document(name)
        assert text.count(f"<!-- {name} -->\n") == 1 and text.count(f"<!-- /{name} -->") == 1, \
            (name, path)


def test_char_lm_pretraining_sentence_is_the_sentence_of_its_record():
    from benchmarks import pretrain_char_lm
    with open(pretrain_char_lm.RECORD) as f:
        rec = json.load(f)
    assert set(rec["runs"]) == {"forward", "backward"}
    for run in rec["runs"].values():
        assert run["command"].startswith("python -m pipelines.train --config=configs/"
                                         "char_lm_english.py")
        assert len(run["corpus"]["all"]["sha256"]) == 64
    text = record.read_document("char_lm_pretraining")
    assert record.section(text, "char_lm_pretraining", pretrain_char_lm.line(rec)) == text
    with open(pretrain_char_lm.CONFIG) as f:
        assert pretrain_char_lm.expected_paragraph(rec) in f.read()


def test_dates_probe_table_is_the_table_of_its_record():
    from benchmarks import dates_probe
    with open(dates_probe.RECORD) as f:
        rec = json.load(f)
    assert len(rec["models"]) == 2 and all(set(m["probes"]) == set(dates_probe.PROBES)
                                           for m in rec["models"])
    text = record.read_document("dates_probe")
    assert record.section(text, "dates_probe", dates_probe.table(rec)) == text


def test_char_lm_rows_are_the_same_recipe_without_and_with_the_states():
    from benchmarks import results_table
    with open(results_table.RESULTS) as f:
        results = json.load(f)
    for task in results_table.CHAR_LM:
        r = results[task]["char_lm"]
        config = results_table.TASKS[task][0]
        assert r["without"]["command"].startswith(f"python -m pipelines.train --config="
                                                  f"{config} "), r["without"]["command"]
        assert f"--config={config}:char_lm " in r["with"]["command"]
        assert r["budget_seconds"] > 0 and len(r["char_lm_files"]) == 4
        assert {"revision", "dirty", "machine", "started_utc"} <= set(r["provenance"])
        assert f"| {task} |" in results_table.char_lm_table(results)


def test_sentiment_cross_domain_table_is_the_table_of_its_record():
    from benchmarks import sentiment_cross_domain as cross
    with open(cross.RECORD) as f:
        rec = json.load(f)
    assert {"revision", "dirty", "started_utc", "finished_utc", "machine", "command"} <= \
        set(rec)
    assert set(rec["settings"]) == set(cross.SETTINGS)
    for name, s in rec["settings"].items():
        assert s["config"] == cross.SETTINGS[name]
        assert len(s["results"]) == 2 * len(rec["seeds"]) >= 4     # both directions
        assert s["summary"] == cross.summarise(s["results"])
    text = record.read_document("sentiment_cross_domain")
    assert record.section(text, "sentiment_cross_domain", cross.table(rec)) == text


def test_cross_domain_summary_spreads_over_seeds():
    from benchmarks.sentiment_cross_domain import summarise
    runs = {f"{a} seed {s}": {"in_domain_test": 0.9, "other_domain": x, "seed": s}
            for (a, s, x) in [("a->b", 0, 0.70), ("b->a", 0, 0.80), ("a->b", 1, 0.74),
                              ("b->a", 1, 0.84)]}
    out = summarise(runs)
    assert out["by_seed"] == [0.75, 0.79] and out["seed_range"] == 0.04
    assert out["other_domain"] == 0.77 and out["seed_std"] == 0.02


def test_mixed_precision_section_is_the_table_of_its_record():
    from benchmarks import mixed_precision
    with open(mixed_precision.RECORD) as f:
        rec = json.load(f)
    assert {"revision", "started_utc", "machine", "command", "cpu_bf16_flags"} <= set(rec)
    pairs = {}
    for r in rec["rows"]:
        pairs.setdefault(r["config"], set()).add(r["policy"])
    assert set(pairs) >= {"char", "seed", "wide", "long", "char_lm"}
    assert all(p == set(mixed_precision.POLICIES) for p in pairs.values())
    text = record.read_document("mixed_precision")
    assert record.section(text, "mixed_precision", mixed_precision.table(rec)) == text


def test_shape_sweep_section_is_the_table_of_its_record():
    """The sweep's record covers every H, B, T and cell the script names, with torch rows,
    and docs/speed.md's section (the shapes where rnn_tf loses, by name) is its table."""
    from benchmarks import shape_sweep
    rec = record.read(shape_sweep.RECORD)
    keys = {(r["cell"], r["H"], r["B"], r["T"]) for r in rec["rows"] if "X" not in r["key"]}
    assert keys == {(c, H, B, T) for c in ("vanilla", "gru") for H in (64, 128, 256, 512, 1024)
                    for B in (1, 8, 32, 128) for T in (20, 200, 1000)}
    assert all("torch" in r for r in rec["rows"]) and rec["torch"]
    text = record.read_document("shape_sweep")
    assert record.section(text, "shape_sweep", shape_sweep.table(rec)) == text
    summary = shape_sweep.summary(rec)
    for key in summary["below_keras"] + summary["below_torch"]:
        assert key in text


def test_sentiment_transfer_table_is_the_table_of_its_record():
    from benchmarks import sentiment_transfer
    rec = record.read(sentiment_transfer.RECORD)
    assert not rec["dirty"] and set(rec["results"]) == {"lexicon rule", "char-LM probe"}
    assert len(rec["char_lm_files"]) == 4          # both LMs and their vocabularies
    for runs in rec["results"].values():
        assert set(runs) == {"amazon->imdb", "imdb->amazon"}
    text = record.read_document("sentiment_transfer")
    assert record.section(text, "sentiment_transfer", sentiment_transfer.table(rec)) == text


def test_transfer_probe_fits_a_separable_set_and_its_penalty_shrinks_to_the_prior():
    import numpy as np
    from benchmarks.sentiment_transfer import fit_logistic
    rng = np.random.default_rng(0)
    y = np.arange(200) % 2
    x = rng.normal(size=(200, 5)) + 3.0 * y[:, None] * np.array([1, -1, 0, 0, 0])
    assert np.mean(fit_logistic(x, y, 1e-3)(x) == y) > 0.95
    # an overwhelming penalty leaves the bias alone: every sentence gets the majority class
    tilted = np.concatenate([y, np.ones(50, int)])
    x2 = np.concatenate([x, rng.normal(size=(50, 5))])
    assert fit_logistic(x2, tilted, 1e4)(x2).all()


def test_lexicon_rule_sums_vader_ratings_with_negation():
    from benchmarks.sentiment_transfer import lexicon_rule, sentiment_task
    positive, rated = lexicon_rule(sentiment_task(), ["A great phone.", "It is not great.",
                                                      "The screen is six inches wide."])
    assert positive.tolist() == [True, False, False]
    assert rated.tolist() == [True, True, False]
