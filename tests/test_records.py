"""Benchmark records: the README's generated sections are the tables of the committed
JSON records, and each record says where it came from."""

import json
import os

from benchmarks import mirrored_scaling

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_mirrored_scaling_section_is_the_table_of_its_record():
    with open(mirrored_scaling.RECORD) as f:
        rec = json.load(f)
    for key in ("revision", "dirty", "started_utc", "finished_utc", "machine", "versions",
                "command", "measurements"):
        assert key in rec, key
    assert {m["variant"] for m in rec["measurements"]} == set(mirrored_scaling.VARIANTS)
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    assert mirrored_scaling.readme_section(text, rec) == text


def test_main_job_line_is_the_line_of_its_record():
    from benchmarks import main_job
    with open(main_job.RECORD) as f:
        rec = json.load(f)
    assert {"revision", "dirty", "started_utc", "finished_utc", "machine", "command",
            "result"} <= set(rec)
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    assert f"<!-- main_job -->\n{main_job.line(rec)}\n<!-- /main_job -->" in text
    with open(os.path.join(ROOT, "configs", "default.py")) as f:
        assert main_job.expected_paragraph(rec) in f.read()


def test_throughput_and_latency_sections_are_the_tables_of_their_records():
    from benchmarks import generation_latency, record, train_throughput
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    with open(os.path.join(ROOT, "benchmarks", "records", "train_throughput.json")) as f:
        rec = json.load(f)
    assert record.section(text, "train_throughput", train_throughput.table(rec)) == text
    with open(generation_latency.RECORD) as f:
        rec = json.load(f)
    assert record.section(text, "generation_latency", generation_latency.table(rec)) == text
