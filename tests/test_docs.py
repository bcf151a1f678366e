"""The docs include code from files the tests run: every include is a working snippet marker."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_snippet_include_is_well_formed_and_points_at_a_file():
    root = DOCS.parent
    for page in sorted(DOCS.glob("*.md")):
        for number, line in enumerate(page.read_text().splitlines(), 1):
            if not re.search(r"--\s*8\s*<\s*--", line):
                continue
            where = f"{page.name}:{number}"
            match = re.fullmatch(r'--8<-- "([^":]+)(?::[\w-]+)?"', line.strip())
            assert match, f"{where}: malformed include {line.strip()!r} (shown as text)"
            assert (root / match.group(1)).is_file(), f"{where}: no file {match.group(1)}"


def _prose_lines(page):
    """(number, line, previous line) outside fenced code blocks."""
    fenced, previous = False, ""
    for number, line in enumerate(page.read_text().splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            yield number, line, previous
        previous = line


def test_no_table_is_rendered_as_a_paragraph():
    """A Markdown table needs a blank line above it; without one it renders as text."""
    bad = [
        f"{page.name}:{number}"
        for page in sorted(DOCS.glob("*.md"))
        for number, line, previous in _prose_lines(page)
        if line.startswith("|") and previous.strip() and not previous.startswith("|")
    ]
    assert not bad, f"tables glued to the line above: {bad}"


def test_yaml_blocks_parse_and_data_sections_validate():
    import yaml

    from fusionkit.config import DataConfig

    checked = 0
    for page in sorted(DOCS.glob("*.md")):
        for block in re.findall(r"```yaml\n(.*?)```", page.read_text(), re.S):
            if "--8<--" in block:
                continue  # included from a config file that its own tests load
            content = yaml.safe_load(block)
            if isinstance(content, dict) and isinstance(content.get("data"), dict):
                data = content["data"]
                if "classes" in data and "modalities" in data:
                    DataConfig.model_validate(data)
                    checked += 1
    assert checked >= 2
