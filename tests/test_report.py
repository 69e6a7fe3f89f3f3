"""The report's pieces without a browser: Markdown lists as lists, the claims table first, the
categories in the registry's order, the landing page's claims and what was run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pandas as pd
import pytest

from cameval import claims
from cameval.experiments.registry import CLAIMS, CLAIMS_CATEGORY, EXPERIMENTS
from cameval.report import commit_of, landing_html, markdown_to_html, ranked_categories, verdict_counts


def _body(page: str) -> str:
    return page.split("<body>\n", 1)[1].split("\n</body>", 1)[0]


def test_nested_bullets_render_as_nested_lists():
    md = "- a\n  - b **bold**\n  - c\n- d\n    - e (two levels down: one deeper)\n- f"
    assert _body(markdown_to_html(md)) == (
        "<ul><li>a<ul><li>b <b>bold</b></li><li>c</li></ul></li>"
        "<li>d<ul><li>e (two levels down: one deeper)</li></ul></li><li>f</li></ul>"
    )


def test_a_list_after_a_paragraph_and_back_to_the_top_level():
    md = "text\n- x\n  - y\n    - z\n- w\n\nafter"
    assert _body(markdown_to_html(md)) == (
        "<p>text</p>\n<ul><li>x<ul><li>y<ul><li>z</li></ul></li></ul></li><li>w</li></ul>\n<p>after</p>"
    )


def _claims_frame() -> pd.DataFrame:
    rows = []
    for k, c in enumerate(CLAIMS[:3]):
        rows.append(
            {
                "id": c.id,
                "statement": c.statement,
                "source": c.source,
                "tables": ", ".join(c.tables),
                "verdict": ("holds", "does not hold", claims.NOT_BUILT)[k],
                "numbers": "vgg 0.5 [0.4, 0.6]" if k == 0 else "",
                "criterion": "paired test" if k == 0 else "",
                "study_verdict": "holds" if k == 1 else claims.STUDY_NOT_BUILT,
                "study_numbers": "",
                "study_criterion": "",
            }
        )
    return pd.DataFrame(rows, columns=claims.CLAIM_COLUMNS)


def test_claims_page_opens_on_the_table_and_renders_every_list_as_a_list():
    df = _claims_frame()
    page = markdown_to_html(claims.claims_markdown(df, setup=["table1: digits-loc, models vgg"]), "Claims")
    body = _body(page)
    # the first thing after the title is the table with both verdicts, one row per claim
    first = re.match(r"<h1>[^<]*</h1>\n(<table>.*?</table>)", body)
    assert first, body[:300]
    assert first.group(1).count("<tr>") == 1 + len(df)
    assert "<th>on this run</th><th>on the study&#x27;s own results</th>" in first.group(1)
    # no Markdown bullet is left as text: each is an <li>, the table setup nested under its item
    text = re.sub(r"<[^>]+>", "\n", body)
    assert not re.search(r"^\s*- ", text, re.M), [ln for ln in text.splitlines() if ln.strip().startswith("- ")]
    assert "<li>table1: digits-loc, models vgg</li>" in body
    assert "<li>numbers: vgg 0.5 [0.4, 0.6]</li><li>criterion: paired test</li>" in body


def test_categories_are_numbered_in_the_given_order_so_an_alphabetical_menu_keeps_it():
    titles = [CLAIMS_CATEGORY, *(e.title for e in EXPERIMENTS.values())]
    ranked = ranked_categories(titles)
    assert list(ranked) == titles
    assert sorted(ranked.values()) == list(ranked.values())  # the report's menu sorts by name
    assert ranked[CLAIMS_CATEGORY].startswith("1 · ") or ranked[CLAIMS_CATEGORY].startswith("01 · ")
    # eleven or more categories: two digits, still in order ("10" would sort before "2" unpadded)
    many = ranked_categories([f"t{k}" for k in range(12)])
    assert list(many.values())[:2] == ["01 · t0", "02 · t1"] and sorted(many.values()) == list(many.values())


def test_the_study_order_table_1_to_7_then_the_study_own_results():
    order = [e.title for e in EXPERIMENTS.values()]
    tables = [int(m.group(1)) for t in order if (m := re.match(r"Table (\d)", t))]
    assert tables == sorted(tables) == [1, 2, 3, 4, 5, 6, 7]
    study = next(k for k, e in enumerate(EXPERIMENTS.values()) if e.name == "study")
    assert all(not t.startswith("Table") for t in order[study:])


def test_verdict_counts(tmp_path):
    csv = tmp_path / "claims.csv"
    _claims_frame().to_csv(csv, index=False)
    assert verdict_counts(csv) == {"claims checked": 3, "hold on this run": 1, "hold on the study's own results": 1}
    assert verdict_counts(tmp_path / "absent.csv") == dict.fromkeys(verdict_counts(csv), 0)


def test_landing_fragment_holds_the_claims_table_first_then_what_was_run():
    df = _claims_frame()
    df.loc[0, "statement"] = "A <b> & B"
    page = landing_html(df.to_dict("records"), {"config": "tests/configs/tiny.yaml", "commit": "abc123"})
    assert page.index("<table") < page.index("What was run")
    assert "A &lt;b&gt; &amp; B" in page  # escaped, not markup
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td><b>(.*?)</b></td><td><b>(.*?)</b></td></tr>", page)
    assert [r[2] for r in rows] == df["verdict"].tolist()
    assert [r[3] for r in rows] == [claims_html_escaped(v) for v in df["study_verdict"]]
    assert "<li><b>config</b>: tests/configs/tiny.yaml</li><li><b>commit</b>: abc123</li>" in page


def claims_html_escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#x27;")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_commit_of_a_checkout_clean_and_changed(tmp_path):
    assert commit_of(tmp_path) == "none (not a git checkout)"
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }

    def git(*args):
        return subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True, text=True, env=env)

    git("init", "-q")
    (tmp_path / "f").write_text("1")
    git("add", "f")
    git("commit", "-q", "-m", "one")
    head = git("rev-parse", "--short=12", "HEAD").stdout.strip()
    assert commit_of(tmp_path) == head
    (tmp_path / "f").write_text("2")
    assert commit_of(tmp_path) == f"{head} + uncommitted changes"


# --- `make report` after a partial run ----------------------------------------------------------------


@pytest.mark.workflow
@pytest.mark.e2e
def test_make_report_after_a_partial_run_reports_what_exists(tiny_copy):
    """The tiny run with Figure 1, Table 5's figure and the claims gone (as after an interrupted run):
    `make report`'s command (rule `existing`) writes the report of what is there, builds nothing, and
    its landing page says the claims are not checked yet (`all --report` would stop at the first
    missing target: "marked for report but does not exist")."""
    from conftest import TINY_CONFIG, snakemake_at

    root = tiny_copy
    gone = ["results/figures/figure1.png", "results/figures/table5.png", "results/claims.md", "results/claims.csv"]
    for rel in [*gone, "results/report/claims.html", "results/report/landing.html"]:
        (root / rel).unlink()
    make = subprocess.run(["make", "-n", "report", f"CONFIG={TINY_CONFIG}"], cwd=root, capture_output=True, text=True)
    (line,) = [ln for ln in make.stdout.splitlines() if "bin/snakemake " in ln]
    words = line.split()
    assert words[1:4] == ["--cores", "1", "existing"] and words[-2:] == ["--configfile", TINY_CONFIG], line
    proc = snakemake_at(root, *words[1:])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    page = (root / "results/report.html").read_text(errors="replace")
    assert "appendix_b.png" in page and "table1.html" in page  # what exists is reported
    assert "figure1.png" not in page and "table5.png" not in page
    assert "The claims are not checked in this run yet" in page
    assert not any((root / rel).exists() for rel in gone)  # nothing was built
