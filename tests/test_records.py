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
