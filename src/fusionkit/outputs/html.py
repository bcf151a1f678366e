"""``report.html``: ``report.md`` rendered by Python-Markdown as one self-contained page, the
figures embedded."""

from __future__ import annotations

from pathlib import Path


def html_page(text: str, run_dir: Path) -> str:
    """report.md as one self-contained HTML page: Markdown rendered, figures embedded."""
    import base64
    import re

    import markdown

    body = markdown.markdown(text, extensions=["tables"])

    def embed(match: re.Match) -> str:
        path = run_dir / match.group(1)
        if not path.is_file():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode()
        return f'src="data:image/png;base64,{data}"'

    body = re.sub(r'src="(figures/[^"]+\.png)"', embed, body)
    body = body.replace("<table>", "<div class='wide'><table>").replace(
        "</table>", "</table></div>"
    )
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:auto;padding:0 16px;"
        "line-height:1.45}div.wide{overflow-x:auto}table{border-collapse:collapse;"
        "font-size:13px}td,th{padding:3px 8px;border-bottom:1px solid #ddd;white-space:nowrap;"
        "text-align:left}img{max-width:100%}h2{border-bottom:1px solid #ccc;margin-top:1.6em}"
        ".verdict{font-size:17px;background:#f4f7fb;padding:10px 14px;border-left:4px solid"
        " #1f77b4}"
    )
    body = body.replace(
        "<p><strong>Answer:</strong>", "<p class='verdict'><strong>Answer:</strong>"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>fusionkit report</title><style>{style}</style></head><body>\n{body}\n"
        "</body></html>\n"
    )
