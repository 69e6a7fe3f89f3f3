"""The survey page in a real browser: headless Chromium answers it by clicking, reloads midway,
exports; the export is scored against the key.

Chromium is driven through the DevTools protocol over a pipe (``--remote-debugging-pipe``), so
nothing but Debian's ``chromium`` package is needed and nothing is downloaded at test time.
"""

from __future__ import annotations

import io
import re
import time

import numpy as np
import pandas as pd
import pytest

from cameval.experiments import userstudy
from cameval.survey import render_survey
from chromium import CHROMIUM, Chromium
from conftest import HAND_PREFERENCE_A

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="needs a headless Chromium: `apt-get install chromium` (Debian; .ci/run installs it)",
)


def _png(colour) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def kit(tmp_path):
    """Three images x two methods, agents in a seeded random order, as build_kit lays them out."""
    rng = np.random.default_rng(5)
    key, items, pictures = [], [], {}
    for n in range(3):
        pictures[f"img{n}"] = _png((40 * n, 90, 160))
        for method in ("guided_backprop", "guided_gradcam"):
            a, b = ("vgg", "alexnet") if rng.random() < 0.5 else ("alexnet", "vgg")
            item = f"item{len(key) + 1:02d}"
            key.append({"item": item, "method": method, "class": f"digit {n}", "agent_a": a, "agent_b": b})
            items.append(
                {
                    "id": item,
                    "image": f"img{n}",
                    "class": f"digit {n}",
                    "a": _png((200, 10 * len(key), 0)),
                    "b": _png((0, 10 * len(key), 200)),
                }
            )
    key_csv = tmp_path / "key.csv"
    pd.DataFrame(key).assign(kit="kit-test").to_csv(key_csv, index=False)
    html = tmp_path / "survey.html"
    render_survey(
        items,
        pictures,
        html,
        question="Which agent seems more reasonable?",
        answers=userstudy.ANSWERS,
        title="Which agent seems more reasonable?",
        survey_id="kit-test",
    )
    return html, key_csv, pd.DataFrame(key).assign(kit="kit-test")


def test_survey_answered_by_clicking_reloaded_midway_exported_and_scored(tmp_path, kit):
    html, key_csv, key = kit
    page = html.read_text()
    # blinding: no model name anywhere in the page outside the embedded pictures
    visible = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page).lower()
    assert "vgg" not in visible and "alexnet" not in visible
    assert "http://" not in visible and "https://" not in visible  # no network
    for text in HAND_PREFERENCE_A:
        assert text in page

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser = Chromium(CHROMIUM, tmp_path / "profile", downloads)
    try:
        browser.goto(html.as_uri())
        assert browser.js("document.getElementById('start').classList.contains('on')")
        browser.type("#rater", "rater-7")
        browser.click("#begin")
        chosen, seen = {}, []
        answers = list(HAND_PREFERENCE_A)
        for step in range(len(key)):
            if step == 3:  # reload midway: the answers, the order and the position are kept
                browser.reload()
                assert browser.js("document.getElementById('ask').classList.contains('on')")
            progress = browser.js("document.getElementById('progress').textContent")
            assert progress.startswith(f"Item {step + 1} of {len(key)}"), progress
            assert f"({step} answered)" in progress
            assert browser.js("document.getElementById('bar').value") == step
            item = browser.js("document.getElementById('ask').dataset.item")
            k = (int(item[-2:]) * 3) % 5  # every answer text comes up at least once
            browser.click(f'#answers button[data-k="{k}"]')
            chosen[item] = answers[k]
            seen.append(item)
        assert sorted(seen) == sorted(key["item"])  # each item exactly once
        assert browser.js("document.getElementById('done').classList.contains('on')")
        browser.click("#export")
        exported = browser.js("document.getElementById('export-csv').value")
        end = time.monotonic() + 10
        while not list(downloads.glob("*.csv")) and time.monotonic() < end:
            time.sleep(0.1)
    finally:
        browser.close()

    out = tmp_path / "answers.csv"
    out.write_text(exported)
    df = pd.read_csv(out, dtype=str)
    assert list(df.columns) == ["rater", "kit", *key["item"]]
    assert df["kit"].tolist() == [key["kit"].iloc[0]]  # the kit id rides with every exported row
    assert df["rater"].tolist() == ["rater-7"]
    assert df.iloc[0, 2:].to_dict() == chosen
    files = list(downloads.glob("*.csv"))
    assert files and files[0].read_text() == exported  # the downloaded file is the same export

    scores = userstudy.score_answers(out, key_csv, better="vgg").set_index("item")["score"]
    for row in key.itertuples():
        sign = 1 if row.agent_a == "vgg" else -1
        assert scores[row.item] == sign * HAND_PREFERENCE_A[chosen[row.item]], row.item
