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
