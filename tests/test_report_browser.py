"""report.html as a reader sees it: rendered in headless Chromium (Debian's ``chromium``;
.ci/run installs it when absent), checked on the page itself."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

CHECK = """
<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  const verdict = document.querySelector("p.verdict");
  const result = {
    images: images.length,
    loaded: images.filter((i) => i.complete && i.naturalWidth > 0).length,
    verdict: verdict ? verdict.innerText : "",
    scroll_width: document.documentElement.scrollWidth,
    width: window.innerWidth,
    headings: [...document.querySelectorAll("h2")].map((h) => h.innerText),
  };
  const out = document.createElement("pre");
  out.id = "check";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>
"""


def test_report_html_in_a_browser(tmp_path):
    if CHROMIUM is None:  # in CI (CI=true) a browser test that cannot run is a failure
        message = "chromium is not installed (apt-get update && apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    from tests.conftest import small_run

    run_dir = small_run(tmp_path)
    page = (run_dir / "report.html").read_text()
    (run_dir / "check.html").write_text(page.replace("</body>", CHECK + "</body>"))
    dom = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1280,2000",
            "--virtual-time-budget=5000",
            "--dump-dom",
            (run_dir / "check.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    found = re.search(r'<pre id="check">(.*?)</pre>', dom, re.S)
    assert found, dom[-500:]
    result = json.loads(found.group(1).replace("&quot;", '"'))
    assert result["verdict"].startswith("Answer: ")
    assert "best single modality" in result["verdict"]
    assert result["images"] >= 4 and result["loaded"] == result["images"]
    assert result["scroll_width"] <= result["width"], "the page scrolls sideways"
    markdown_headings = re.findall(r"^## (.+)$", (run_dir / "report.md").read_text(), re.M)
    assert result["headings"] == [h.replace("`", "") for h in markdown_headings]
