"""The report of the tiny run in a real browser (headless Chromium, as tests/test_survey_browser.py
drives it): it loads, opens on the landing page with the claims table first, lists the claims and
then the experiments in the study's order, and shows every figure at its own size."""

from __future__ import annotations

import json
import re
import time

import pandas as pd
import pytest
import yaml

from cameval.experiments.registry import CLAIMS_CATEGORY, enabled
from chromium import CHROMIUM, Chromium
from conftest import TINY_CONFIG

pytestmark = [
    pytest.mark.workflow,
    pytest.mark.e2e,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="needs a headless Chromium: `apt-get install chromium` (Debian; .ci/run installs it)",
    ),
]


def wait_for(browser: Chromium, expression: str, timeout: float = 60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = browser.js(expression)
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"{expression}: still false after {timeout} s")


@pytest.fixture(scope="module")
def report_page(tiny_report, tmp_path_factory):
    """The tiny run's report open in headless Chromium (the React page rendered)."""
    folder = tmp_path_factory.mktemp("report-browser")
    browser = Chromium(CHROMIUM, folder / "profile", folder)
    try:
        browser.send("Emulation.setDeviceMetricsOverride", width=1400, height=900, deviceScaleFactor=1, mobile=False)
        browser.goto(tiny_report.as_uri())
        wait_for(browser, "document.querySelector('#app table') !== null")
        yield browser
    finally:
        browser.close()


def test_report_opens_on_the_claims_table_then_what_was_run(report_page, tiny_run):
    page = report_page
    assert page.js("app.state.content") == "metadata"  # the landing page, not the rule graph
    assert page.js("document.querySelector('#app svg.marks, #app canvas.marks')") is None  # no graph drawn
    first_table = page.js(
        """(() => { const t = document.querySelector('#app table');
            return {head: [...t.querySelectorAll('th')].map(e => e.textContent),
                    rows: [...t.querySelectorAll('tbody tr')].map(r => [...r.cells].map(c => c.textContent))}; })()"""
    )
    assert first_table["head"] == ["claim", "study", "on this run", "on the study's own results"]
    claims = pd.read_csv(tiny_run / "results/claims.csv")
    assert [r[0] for r in first_table["rows"]] == claims["statement"].tolist()
    assert [r[2] for r in first_table["rows"]] == claims["verdict"].tolist()
    assert [r[3] for r in first_table["rows"]] == claims["study_verdict"].tolist()
    # in the page's order: the title, the claims' heading and table, then what was run (config, data, models)
    text = page.js("document.querySelector('#app .prose').innerText")
    heads = [text.index(s) for s in ("The study's claims", "What was run", "config:", "datasets:", "models:")]
    assert heads == sorted(heads), text[:2000]
    assert TINY_CONFIG in text
    cfg = yaml.safe_load((tiny_run / TINY_CONFIG).read_text())
    for name in [*cfg["datasets"], *cfg["models"]]:
        assert re.search(rf"\b{re.escape(name)}\b", text), name
    assert page.js(
        "document.querySelector('#loading-screen') === null || "
        "getComputedStyle(document.querySelector('#loading-screen')).display === 'none'"
    )


def test_menu_lists_the_claims_then_the_experiments_in_the_study_order(report_page, tiny_run):
    cfg = yaml.safe_load((tiny_run / TINY_CONFIG).read_text())
    expected = [CLAIMS_CATEGORY, *(e.title for e in enabled(cfg))]
    shown = report_page.js("[...document.querySelectorAll('#app li')].map(e => e.textContent.trim())")
    titles = [re.sub(r"^\d+ · ", "", s) for s in shown if re.match(r"^\d+ · ", s)]
    assert titles == expected, shown


#: the figure ``PATH`` as shown: its natural and shown size, its left edge and its panel's, the panel's scroll size
SHOWN = """(() => { const uri = results[PATH].data_uri;
    const i = [...document.querySelectorAll('#app img')].find(e => e.getAttribute('src') === uri);
    if (!i || !i.complete || !i.naturalWidth) return null;
    const r = i.getBoundingClientRect(), p = i.closest('.overflow-auto');
    return {natural: [i.naturalWidth, i.naturalHeight], shown: [r.width, r.height], left: r.left,
            panel: p.getBoundingClientRect().left, scroll: [p.scrollWidth, p.scrollHeight]}; })()"""


def test_every_figure_opens_at_its_own_size(report_page):
    page = report_page
    figures = page.js("Object.keys(results).filter(p => results[p].mime_type === 'image/png')")
    assert len(figures) >= 8, figures
    for path in figures:
        page.js(
            f"app.setView({{content: 'img', contentPath: results[{json.dumps(path)}].data_uri, "
            f"resultPath: {json.dumps(path)}}})"  # what the report's own view button does (handleImg)
        )
        size = wait_for(page, SHOWN.replace("PATH", json.dumps(path)))
        assert size["shown"] == size["natural"], (path, size)  # not shrunk to the panel
        assert size["left"] >= size["panel"], (path, size)  # its left edge is not cut off: the panel scrolls
        assert size["scroll"][0] >= size["natural"][0] and size["scroll"][1] >= size["natural"][1], (path, size)
        page.js("app.setView({content: 'metadata'})")
