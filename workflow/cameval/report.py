"""HTML renderings of the Markdown that cameval writes (tables, claims), for `snakemake --report`.

Only the subset cameval produces is understood: ``#``-headings, pipe tables, ``- `` bullets,
paragraphs, ``**bold**`` and ```code```. The page is self-contained (inline style, no network).
"""

from __future__ import annotations

import html
import os
import re

from cameval.io import write_text

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1em;color:#222}table{border-collapse:collapse;margin:.5em 0}"
    "th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left}th{background:#eee}code{background:#f4f4f4}"
)


def _inline(text: str) -> str:
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def markdown_to_html(md: str, title: str | None = None) -> str:
    """A standalone HTML page of ``md`` (see the module docstring for what is understood)."""
    out, lines, i = [], md.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")), 6)
            out.append(f"<h{level}>{_inline(line[level:].strip())}</h{level}>")
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            body = [r for r in rows[1:] if not all(re.fullmatch(r":?-{3,}:?", c) for c in r)]
            out.append(
                "<table><thead><tr>"
                + "".join(f"<th>{_inline(c)}</th>" for c in rows[0])
                + "</tr></thead><tbody>"
                + "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in body)
                + "</tbody></table>"
            )
            continue
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{_inline(lines[i][2:])}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
            continue
        elif line.strip():
            out.append(f"<p>{_inline(line)}</p>")
        i += 1
    head = f"<title>{html.escape(title)}</title>" if title else ""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">{head}<style>{_STYLE}</style></head>'
        f"<body>\n" + "\n".join(out) + "\n</body></html>\n"
    )


def write_markdown_html(md_path: str | os.PathLike, html_path: str | os.PathLike) -> None:
    """Render the Markdown file ``md_path`` to ``html_path`` (atomically)."""
    with open(md_path) as f:
        md = f.read()
    first = next((ln.lstrip("# ").strip() for ln in md.splitlines() if ln.startswith("#")), None)
    write_text(markdown_to_html(md, first), html_path)
