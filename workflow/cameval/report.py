"""HTML renderings of the Markdown that cameval writes (tables, claims), for `snakemake --report`, and
what the report's landing page shows (the claims' summary and what was run, ``workflow/report/workflow.rst``)
and the order of its categories.

Only the subset cameval produces is understood: ``#``-headings, pipe tables, ``- `` bullets (nested
by two spaces of indentation a level), paragraphs, ``**bold**`` and ```code```. The page is
self-contained (inline style, no network).
"""

from __future__ import annotations

import csv
import html
import os
import re
import subprocess
from collections.abc import Sequence

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


def _bullet(line: str) -> tuple[int, str] | None:
    """``(depth, text)`` of a bullet line (``- `` after 2·depth spaces), else None."""
    m = re.match(r"^((?:  )*)- (.*)$", line)
    return (len(m.group(1)) // 2, m.group(2)) if m else None


def _list_html(lines: list[str]) -> str:
    """Consecutive bullet lines as nested ``<ul>`` lists (a deeper line belongs to the item above it)."""
    html_, depth = [], -1
    for line in lines:
        level, text = _bullet(line)
        level = min(level, depth + 1)  # a jump of several levels nests one deeper
        if level > depth:
            html_.append("<ul>" * (level - depth))
        else:
            html_.append("</li>" + "</ul></li>" * (depth - level))
        html_.append(f"<li>{_inline(text)}")
        depth = level
    return "".join(html_) + "</li>" + "</ul></li>" * depth + "</ul>"


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
        elif _bullet(line) is not None:
            start = i
            while i < len(lines) and _bullet(lines[i]) is not None:
                i += 1
            out.append(_list_html(lines[start:i]))
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


# --- the landing page and the menu ----------------------------------------------------------------


def ranked_categories(titles: Sequence[str]) -> dict[str, str]:
    """Each category title numbered by its place in ``titles`` (``"01 · Claims …"``): Snakemake's report
    lists its categories alphabetically, so the number is what keeps the claims first and the
    experiments in the registry's order (the study's Table 1 … Table 7, its own results, what goes
    beyond), however many experiments come."""
    width = len(str(len(titles)))
    return {t: f"{i:0{width}d} · {t}" for i, t in enumerate(titles, start=1)}


def verdict_counts(claims_csv: str | os.PathLike) -> dict[str, int]:
    """How many claims ``results/claims.csv`` checks and how many hold on each kind of evidence (the
    figures of the report's landing page, ``workflow/report/metadata.yaml``); zeros where the claims
    are not built yet."""
    rows = []
    if os.path.exists(claims_csv):
        with open(claims_csv, newline="") as f:
            rows = list(csv.DictReader(f))
    return {
        "claims checked": len(rows),
        "hold on this run": sum(r["verdict"] == "holds" for r in rows),
        "hold on the study's own results": sum(r["study_verdict"] == "holds" for r in rows),
    }


def commit_of(root: str | os.PathLike = ".") -> str:
    """The git commit checked out at ``root`` (short hash, ``+ uncommitted changes`` where the work tree
    differs from it), or a sentence saying there is none (a copy without ``.git``, no ``git``)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=30
        )
        if head.returncode != 0:
            return "none (not a git checkout)"
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown (git not available)"
    return head.stdout.strip() + (" + uncommitted changes" if dirty.stdout.strip() else "")


def landing_html(claims: Sequence[dict], run: dict[str, str]) -> str:
    """The top of the report's landing page (an HTML fragment ``workflow.rst`` includes): the claims
    table with both verdicts, then ``run`` (what was run: config files, commit, …) as a list.

    ``claims``: rows of ``results/claims.csv`` (``statement``, ``source``, ``verdict``, ``study_verdict``)."""
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(c['statement'])}</td><td>{e(c['source'])}</td><td><b>{e(c['verdict'])}</b></td>"
        f"<td><b>{e(c['study_verdict'])}</b></td></tr>"
        for c in claims
    )
    items = "".join(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in run.items())
    return (
        '<h2 id="claims">The study\'s claims, checked</h2>\n'
        '<table class="cameval-claims"><thead><tr><th>claim</th><th>study</th><th>on this run</th>'
        f"<th>on the study's own results</th></tr></thead><tbody>{rows}</tbody></table>\n"
        "<p>Each claim's numbers and criterion: the claims page (first in the menu); "
        "<i>on this run</i> is this configuration's tables, <i>on the study's own results</i> the "
        "study's published per-image, per-box and per-rater results reanalysed.</p>\n"
        f'<h2 id="run">What was run</h2>\n<ul class="cameval-run">{items}</ul>\n'
    )
