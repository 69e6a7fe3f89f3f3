"""The user-study page: one self-contained HTML file (images embedded, no server, no network).

What a rater sees: a start screen asking for a rater id, then one item per screen in an order
drawn at random for that rater: the image, the class both agents predicted, agent A's and agent
B's explanation, the question and the five answers. A progress indicator tells how far they are;
answers (and the order, and the position) are kept in the browser's ``localStorage``, so a
reload continues where the rater was. At the end the answers are exported as CSV: a header
``rater, kit, <item ids in the key's order>`` and one row holding the rater id, the kit's id (the
key's ``kit`` column: answers to a rebuilt kit are refused) and the answer texts.

Nothing in the page names a model: items carry only their id, the image, the class and the two
pictures in the agent order of the key.
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Sequence

from cameval.io import write_text

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>__TITLE__</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 920px; margin: 1.5em auto; padding: 0 1em; color: #222; }
.screen { display: none; } .screen.on { display: block; }
#bar { width: 100%; height: 10px; } #progress { margin: .3em 0 1em; font-size: .95em; color: #555; }
.agents { display: flex; gap: 1.5em; justify-content: center; flex-wrap: wrap; }
figure { margin: 0; text-align: center; } figure img, #image { image-rendering: auto; border: 1px solid #ccc; }
figcaption { font-weight: 600; margin-top: .3em; }
.answers { display: flex; flex-direction: column; gap: .4em; margin: 1em 0; }
.answers button { text-align: left; padding: .55em .8em; font-size: 1em; border: 1px solid #999; border-radius: 6px;
                   background: #fafafa; cursor: pointer; }
.answers button.chosen { background: #cfe3ff; border-color: #246; }
.center { text-align: center; } textarea { width: 100%; height: 8em; font-family: monospace; }
</style>
</head>
<body>
<h1>__TITLE__</h1>
<div id="start" class="screen">
  <p>You will see __N__ images. For each, two agents (classifiers) predicted the same class and
  show what their decision was based on. Tell which agent seems more reasonable to you. There
  are no right answers; your answers stay in this browser until you export them at the end.</p>
  <p><label>Your rater id: <input id="rater" size="24"></label></p>
  <button id="begin">Start</button>
</div>
<div id="ask" class="screen">
  <progress id="bar" max="__N__" value="0"></progress>
  <div id="progress"></div>
  <div class="center"><img id="image" alt="the image"><p>Both agents predicted: <b id="cls"></b></p></div>
  <div class="agents">
    <figure><img id="agent-a" alt="agent A's explanation"><figcaption>Agent A</figcaption></figure>
    <figure><img id="agent-b" alt="agent B's explanation"><figcaption>Agent B</figcaption></figure>
  </div>
  <p class="center"><b>__QUESTION__</b></p>
  <div class="answers" id="answers"></div>
  <button id="back">Back</button>
</div>
<div id="done" class="screen">
  <p id="done-text"></p>
  <button id="export">Export answers (CSV)</button>
  <a id="download" download="answers.csv" style="display:none">Download answers.csv</a>
  <p><textarea id="export-csv" readonly></textarea></p>
  <button id="review">Back to the last item</button>
</div>
<script>
"use strict";
const SURVEY = "__SURVEY_ID__";
const ANSWERS = __ANSWERS__;
const ITEMS = __ITEMS__;
const PICTURES = __PICTURES__;
const STORE = "cameval-survey-" + SURVEY;
let state = load();

function load() {
  try { const s = JSON.parse(localStorage.getItem(STORE)); if (s && s.order) return s; } catch (e) {}
  return null;
}
function save() { localStorage.setItem(STORE, JSON.stringify(state)); }
function shuffled(n) {
  const a = [...Array(n).keys()];
  const r = new Uint32Array(n); crypto.getRandomValues(r);
  for (let i = n - 1; i > 0; i--) { const j = r[i] % (i + 1); [a[i], a[j]] = [a[j], a[i]]; }
  return a;
}
function newRaterId() {
  const r = new Uint32Array(2); crypto.getRandomValues(r);
  return "rater-" + r[0].toString(36) + r[1].toString(36);
}
function show(id) {
  for (const s of document.querySelectorAll(".screen")) s.classList.toggle("on", s.id === id);
}
function render() {
  if (!state) { document.getElementById("rater").value = newRaterId(); return show("start"); }
  if (state.pos >= ITEMS.length) return done();
  const it = ITEMS[state.order[state.pos]];
  const answered = Object.keys(state.answers).length;
  document.getElementById("bar").value = answered;
  document.getElementById("progress").textContent =
    "Item " + (state.pos + 1) + " of " + ITEMS.length + " (" + answered + " answered)";
  document.getElementById("ask").dataset.item = it.id;
  document.getElementById("image").src = PICTURES[it.image];
  document.getElementById("cls").textContent = it["class"];
  document.getElementById("agent-a").src = it.a;
  document.getElementById("agent-b").src = it.b;
  for (const b of document.querySelectorAll("#answers button"))
    b.classList.toggle("chosen", state.answers[it.id] === ANSWERS[+b.dataset.k]);
  document.getElementById("back").disabled = state.pos === 0;
  show("ask");
}
function answer(k) {
  const it = ITEMS[state.order[state.pos]];
  state.answers[it.id] = ANSWERS[k];
  state.pos += 1;
  save(); render();
}
function csvCell(s) { return /[",\\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; }
function exportCsv() {
  const head = ["rater", "kit"].concat(ITEMS.map(it => it.id));
  const row = [state.rater, SURVEY].concat(ITEMS.map(it => state.answers[it.id] || ""));
  return head.map(csvCell).join(",") + "\\n" + row.map(csvCell).join(",") + "\\n";
}
function done() {
  const answered = Object.keys(state.answers).length;
  document.getElementById("done-text").textContent =
    "Thank you. " + answered + " of " + ITEMS.length + " items answered. Export your answers and send the file back.";
  show("done");
}
document.getElementById("begin").addEventListener("click", () => {
  const rater = document.getElementById("rater").value.trim() || newRaterId();
  state = {rater: rater, order: shuffled(ITEMS.length), answers: {}, pos: 0};
  save(); render();
});
const box = document.getElementById("answers");
ANSWERS.forEach((text, k) => {
  const b = document.createElement("button");
  b.type = "button"; b.dataset.k = k; b.textContent = text;
  b.addEventListener("click", () => answer(k));
  box.appendChild(b);
});
document.getElementById("back").addEventListener("click", () => {
  if (state.pos > 0) { state.pos -= 1; save(); render(); }
});
document.getElementById("review").addEventListener("click", () => { state.pos = ITEMS.length - 1; save(); render(); });
document.getElementById("export").addEventListener("click", () => {
  const csv = exportCsv();
  document.getElementById("export-csv").value = csv;
  const a = document.getElementById("download");
  a.href = "data:text/csv;charset=utf-8," + encodeURIComponent(csv);
  a.style.display = "inline";
  a.click();
});
render();
</script>
</body>
</html>
"""


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _js(obj) -> str:
    """JSON safe inside a <script> element."""
    return json.dumps(obj, ensure_ascii=False).replace("</", "<\\/")


def render_survey(
    items: list[dict],
    pictures: dict[str, bytes],
    path: str | os.PathLike,
    question: str,
    answers: Sequence[str],
    title: str,
    survey_id: str,
) -> None:
    """Write the survey page. ``items``: in the key's row order, each ``{id, image, class, a, b}``
    with ``a``/``b`` PNG bytes of agent A's and B's explanation and ``image`` a key of ``pictures``
    (PNG bytes of the image, shared by the items of one image)."""
    page_items = [
        {"id": it["id"], "image": it["image"], "class": it["class"], "a": _data_uri(it["a"]), "b": _data_uri(it["b"])}
        for it in items
    ]
    text = (
        _PAGE.replace("__TITLE__", html.escape(title))
        .replace("__QUESTION__", html.escape(question))
        .replace("__N__", str(len(items)))
        .replace("__SURVEY_ID__", html.escape(survey_id))
        .replace("__ANSWERS__", _js(list(answers)))
        .replace("__PICTURES__", _js({k: _data_uri(v) for k, v in pictures.items()}))
        .replace("__ITEMS__", _js(page_items))
    )
    write_text(text, path)
