"""The README's library examples run as written."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def python_blocks():
    text = open(os.path.join(ROOT, "README.md")).read()
    return [b for b in re.findall(r"```python\n(.*?)```", text, re.S)
            if "runs/" not in b]          # serving examples need a trained run


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_readme_example_runs(index):
    code = python_blocks()[index]
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]


def _documents():
    docs = os.path.join(ROOT, "docs")
    return [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "RESULTS.md")] + sorted(
        os.path.join(docs, f) for f in os.listdir(docs) if f.endswith(".md"))


def test_readme_is_a_front_page_and_its_links_resolve():
    text = open(os.path.join(ROOT, "README.md")).read()
    assert len(text.splitlines()) < 250
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings[:6] == ["## Install and run", "## Test", "## Data",
                            "## The layer: `rnn_tf.RNN`",
                            "## Architectures (`rnn_tf.models`, `rnn_tf.seq2seq`)",
                            "## The pipeline: `python -m pipelines.train`"], headings
    for path in _documents():
        prose = re.sub(r"```.*?```", "", open(path).read(), flags=re.S)
        for link in re.findall(r"\]\(([^)#:]+)\)", prose):
            target = os.path.normpath(os.path.join(os.path.dirname(path), link))
            assert os.path.exists(target), (path, link)


def test_no_document_dates_anything_by_work_periods():
    """Provenance is a commit, a date and a machine; no document counts work periods or
    says who worked when."""
    ordinal = (r"\b(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|"
               r"\w+teenth|\w+tieth|\d+(st|nd|rd|th))\s+(working|work|session|sitting|pass)")
    pattern = re.compile(ordinal + r"|\bthis session\b|\bwork period\b|\bsession \d+",
                         re.I)
    files = _documents() + [os.path.join(ROOT, "configs", f)
                            for f in os.listdir(os.path.join(ROOT, "configs"))
                            if f.endswith(".py")]
    for path in files:
        hits = pattern.findall(open(path).read())
        assert not hits, (path, hits)
