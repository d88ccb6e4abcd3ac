"""The front door cannot rot: the README's quickstart runs as written, at its stated sizes, and every
link between the README and the pages under ``docs/`` leads to a file that exists."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

README = REPO / "README.md"
# A block the quickstart test runs: a fenced bash or python block right after this marker.
QUICKSTART = re.compile(r"<!-- quickstart -->\n```(bash|python)\n(.*?)```", re.S)
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def quickstart_blocks() -> list[tuple[str, str]]:
    return QUICKSTART.findall(README.read_text())


def test_the_readme_is_a_front_door():
    """At most 200 lines, the two setup commands first, and no issue numbers in what users read."""
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    assert text.split("```bash\n", 1)[1].startswith("bash setup.sh\n.venv/bin/python -m pytest\n")
    for page in [README, *sorted((REPO / "docs").glob("*.md"))]:
        assert not re.search(r"\bissues? \d", page.read_text(), re.I), page.name


def test_every_link_of_the_docs_leads_somewhere():
    for page in [README, REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md"))]:
        for target in LINK.findall(page.read_text()):
            if "://" not in target:
                assert (page.parent / target).exists(), f"{page.relative_to(REPO)} links to {target}"


@pytest.mark.long
def test_the_readme_quickstart_runs_as_written(tmp_path):
    """Each marked block in order, in a fresh folder, with ``.venv``'s commands first on the PATH: the
    200-row build loads, exports and scores the reference completions 100%."""
    blocks = quickstart_blocks()
    assert [language for language, _ in blocks] == ["bash", "python", "bash", "python", "bash"]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env["HF_DATASETS_CACHE"] = str(tmp_path / "hf_cache")
    printed = []
    for language, code in blocks:
        command = ["bash", "-euo", "pipefail", "-c", code] if language == "bash" else [sys.executable, "-c", code]
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{code}\n{done.stderr[-3000:]}"
        printed.append(done.stdout)
    assert "num_rows: 200" in printed[1]  # the train split, as the README says
    scores = json.loads((tmp_path / "report" / "summary.json").read_text())["sources"]["predictions"]["overall"]
    assert (scores["exact"], scores["compiles"], scores["correct"]) == (1.0, 1.0, 1.0), scores
    assert "predictions" in printed[-1] and "nearest" in printed[-1]  # the summary the last block prints
    shown_row_is_in(tmp_path / "data")


def shown_row_is_in(data: Path) -> None:
    """The row the README shows is a row of the quickstart's build: its Python whole, and every line
    of its ``forward`` excerpt (a generator version that draws other kernels must show another)."""
    import datasets

    section = README.read_text().split("## A row", 1)[1]
    python = section.split("```python\n", 1)[1].split("```", 1)[0]
    excerpt = section.split("```cpp\n", 1)[1].split("```", 1)[0]
    train = datasets.load_dataset(str(data), "cpu", split="train", cache_dir=str(data.parent / "shown_cache"))
    row = next((r for r in train if python in r["python_source"]), None)
    assert row is not None, "the README shows a kernel the quickstart's build does not have"
    missing = [
        line for line in excerpt.splitlines() if line.strip() != "..." and line not in row["forward"].splitlines()
    ]
    assert missing == [], missing
