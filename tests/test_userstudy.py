"""Table 4's analysis: scoring hand-made answer files, the summary against hand numbers and scipy."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wilcoxon

from cameval.errors import DataError
from cameval.experiments import userstudy
from cameval.experiments.userstudy import compute, kit, table
from conftest import HAND_PREFERENCE_A  # preference for agent A of each answer, by hand

KEY = pd.DataFrame(
    {
        "item": ["item01", "item02", "item03", "item04"],
        "method": ["guided_backprop", "guided_backprop", "guided_gradcam", "guided_gradcam"],
        "class": ["digit 3", "digit 3", "digit 7", "digit 7"],
        "agent_a": ["vgg", "alexnet", "vgg", "alexnet"],
        "agent_b": ["alexnet", "vgg", "alexnet", "vgg"],
    }
)


@pytest.fixture
def key_csv(tmp_path):
    path = tmp_path / "key.csv"
    KEY.to_csv(path, index=False)
    return path


def _answers(tmp_path, rows, columns=("rater", "item01", "item02", "item03", "item04")):
    path = tmp_path / "answers.csv"
    pd.DataFrame(rows, columns=list(columns)).to_csv(path, index=False)
    return path


def test_the_five_answers_are_the_studys_verbatim():
    assert list(userstudy.ANSWERS) == list(HAND_PREFERENCE_A)


@pytest.mark.parametrize("text", list(HAND_PREFERENCE_A))
def test_every_answer_scores_by_hand_in_both_agent_orders(tmp_path, key_csv, text):
    path = _answers(tmp_path, [["r1", text, text, text, text]])
    scores = userstudy.score_answers(path, key_csv, better="vgg").set_index("item")["score"]
    p = HAND_PREFERENCE_A[text]
    # item01/item03: vgg is agent A -> +p; item02/item04: vgg is agent B -> -p
    assert scores.to_dict() == {"item01": p, "item02": -p, "item03": p, "item04": -p}
    # the other model as "better" flips every sign
    flipped = userstudy.score_answers(path, key_csv, better="alexnet").set_index("item")["score"]
    assert flipped.to_dict() == {"item01": -p, "item02": p, "item03": -p, "item04": p}


def test_scores_carry_rater_method_and_skip_unanswered(tmp_path, key_csv):
    a, b = "Agent A seems clearly the most reasonable", "Agent B seems slightly more reasonable than agent A"
    path = _answers(tmp_path, [["ann", a, "", b, a], ["bob", b, b, "", ""]])
    s = userstudy.score_answers(path, key_csv, better="vgg")
    assert list(zip(s["rater"], s["item"], s["method"], s["score"], strict=True)) == [
        ("ann", "item01", "guided_backprop", 2),
        ("ann", "item03", "guided_gradcam", -1),
        ("ann", "item04", "guided_gradcam", -2),
        ("bob", "item01", "guided_backprop", -1),
        ("bob", "item02", "guided_backprop", 1),
    ]


def test_unknown_answer_is_rejected_naming_rater_and_item(tmp_path, key_csv):
    ok = "Both agents seem equally reasonable"
    path = _answers(tmp_path, [["r1", ok, ok, ok, ok], ["r7", ok, ok, "Agent A is better", ok]])
    with pytest.raises(DataError, match=r"rater r7, item item03: unknown answer 'Agent A is better'"):
        userstudy.score_answers(path, key_csv)


def test_missing_item_column_is_rejected_naming_the_item(tmp_path, key_csv):
    ok = "Both agents seem equally reasonable"
    path = _answers(tmp_path, [["r1", ok, ok, ok]], columns=("rater", "item01", "item02", "item04"))
    with pytest.raises(DataError, match=r"no column for items \['item03'\]"):
        userstudy.score_answers(path, key_csv)


def test_better_must_be_one_of_the_agents(tmp_path, key_csv):
    ok = "Both agents seem equally reasonable"
    path = _answers(tmp_path, [["r1", ok, ok, ok, ok]])
    with pytest.raises(DataError, match="better='googlenet'"):
        userstudy.score_answers(path, key_csv, better="googlenet")


def _scores(table):
    """{method: {rater: [scores]}} -> the long frame score_answers returns."""
    rows = [
        {"rater": r, "item": f"{m}-{r}-{k}", "method": m, "answer": "", "score": v}
        for m, per in table.items()
        for r, values in per.items()
        for k, v in enumerate(values)
    ]
    return pd.DataFrame(rows)


HAND = {
    "guided_backprop": {"r1": [2, 1], "r2": [0, -1], "r3": [1, 1]},
    "guided_gradcam": {"r1": [0, 0], "r2": [-2, -1], "r3": [1, 2]},
}


def test_summary_mean_and_std_by_hand_and_wilcoxon_as_scipy():
    out = userstudy.summarize(_scores(HAND), n_boot=200).set_index("method")
    # guided_backprop: 2, 1, 0, -1, 1, 1 -> mean 4/6; squared deviations sum 16/3, / (6 - 1)
    assert out.loc["guided_backprop", "mean"] == pytest.approx(4 / 6)
    assert out.loc["guided_backprop", "std"] == pytest.approx(np.sqrt(16 / 3 / 5))
    # guided_gradcam: 0, 0, -2, -1, 1, 2 -> mean 0; squares 10, / 5
    assert out.loc["guided_gradcam", "mean"] == pytest.approx(0.0)
    assert out.loc["guided_gradcam", "std"] == pytest.approx(np.sqrt(2.0))
    assert out["raters"].tolist() == [3, 3] and out["answers"].tolist() == [6, 6]
    # per-rater means by hand: (1.5, -0.5, 1.0) vs (0, -1.5, 1.5)
    ref = wilcoxon([1.5, -0.5, 1.0], [0.0, -1.5, 1.5])
    assert out.loc["guided_backprop", "p_value"] == pytest.approx(ref.pvalue)
    assert out.loc["guided_backprop", "statistic"] == pytest.approx(ref.statistic)
    assert out.loc["guided_gradcam", "p_value"] == out.loc["guided_backprop", "p_value"]
    assert out.loc["guided_backprop", "pairs"] == 3


def test_clustered_bootstrap_resamples_raters_not_answers():
    # two raters, one always +2 and one always -2 (three answers each): a resample of raters is
    # {+2,+2}, {+2,-2} or {-2,-2} -> mean 2, 0, -2 with probability 1/4, 1/2, 1/4, so the 95 %
    # percentile interval is [-2, 2]; resampling single answers would give a much narrower one
    s = _scores({"m": {"a": [2, 2, 2], "b": [-2, -2, -2]}})
    low, high = table.clustered_bootstrap_ci(s, n_boot=2000, seed=1)
    assert (low, high) == (-2.0, 2.0)
    # raters that agree perfectly: no spread at all
    s = _scores({"m": {"a": [1, 1], "b": [1, 1], "c": [1]}})
    assert table.clustered_bootstrap_ci(s, n_boot=500) == (1.0, 1.0)


def test_table4_without_answers_awaits_and_invents_nothing(key_csv):
    full, display, awaiting = userstudy.table4(
        [], key_csv, better="vgg", reference={"guided_backprop": {"mean": 0.5, "std": 1.0}}
    )
    assert awaiting and full["status"].tolist() == ["awaiting answers"] * 2
    assert full[["mean", "std", "ci_low", "ci_high", "p_value"]].isna().all().all()
    assert full["study_mean"].tolist()[0] == 0.5
    assert display["ours"].tolist() == ["awaiting answers"] * 2


def test_table4_from_two_answer_files(tmp_path, key_csv):
    t = list(HAND_PREFERENCE_A)
    f1, f2 = tmp_path / "a.csv", tmp_path / "b.csv"
    pd.DataFrame([["r1", t[0], t[4], t[2], t[2]]], columns=["rater", *KEY["item"]]).to_csv(f1, index=False)
    pd.DataFrame([["r2", t[1], t[3], t[3], t[1]]], columns=["rater", *KEY["item"]]).to_csv(f2, index=False)
    full, _, awaiting = userstudy.table4([f1, f2], key_csv, better="vgg", n_boot=100)
    full = full.set_index("method")
    # r1: gbp 2, 2 ; ggc 0, 0 ; r2: gbp 1, 1 ; ggc -1, -1
    assert not awaiting
    assert full.loc["guided_backprop", "mean"] == pytest.approx(1.5)
    assert full.loc["guided_gradcam", "mean"] == pytest.approx(-0.5)
    with pytest.raises(DataError, match="more than one answers file"):
        userstudy.table4([f1, f1], key_csv, better="vgg")


def test_sample_is_seeded_and_never_larger_than_the_pool():
    pool = [f"id{i}" for i in range(50)]
    a = kit.sample_images(pool, 13, seed=3)
    assert a == kit.sample_images(pool, 13, seed=3) and len(set(a)) == 13
    assert a != kit.sample_images(pool, 13, seed=4)
    assert kit.sample_images(pool[:5], 13, seed=0) == pool[:5]
    with pytest.raises(DataError, match="table4.pool"):
        kit.sample_images([], 13, seed=0)


# --- the kit, built from shards made here ---------------------------------------------------------


@pytest.fixture
def kit_inputs(tmp_path):
    """10 images of 16x16; labels i % 3; vgg wrong on images 1 and 4, alexnet wrong on image 2."""
    from cameval.data.images import ImageSetWriter
    from cameval.data.manifest import write_manifest
    from cameval.store import write_shard

    rng = np.random.default_rng(0)
    n, ids = 10, [f"im{i}" for i in range(10)]
    labels = np.arange(n) % 3
    with ImageSetWriter(tmp_path / "images.h5", n, 16, 16, [0.5] * 3, [0.5] * 3) as w:
        for i in range(n):
            w.write(i, rng.integers(0, 255, (16, 16, 3), dtype=np.uint8), ids[i])
    write_manifest(
        pd.DataFrame(
            {"id": ids, "split": "test", "index": range(n), "label": labels, "source": ids, "boxes": [[]] * n}
        ),
        tmp_path / "manifest.csv",
    )
    wrong = {"vgg": {1, 4}, "alexnet": {2}}
    maps, gbp, cam = {}, {}, {}
    for m in ("vgg", "alexnet"):
        top1 = np.array([(labels[i] + 1) % 3 if i in wrong[m] else labels[i] for i in range(n)])
        g = rng.normal(size=(n, 1, 3, 16, 16)).astype(np.float32)
        c = rng.random((n, 1, 4, 4)).astype(np.float32)
        scores = np.zeros((n, 3), np.float32)
        gbp[m] = []
        for s, rows in enumerate((range(0, 5), range(5, 10))):
            path = tmp_path / f"{m}_gbp_{s}.h5"
            rows = list(rows)
            write_shard(path, [ids[i] for i in rows], labels[rows], top1[rows, None], scores[rows], g[rows], {})
            gbp[m].append(str(path))
        path = tmp_path / f"{m}_cam.h5"
        write_shard(path, ids, labels, np.stack([top1, labels], 1), scores, np.concatenate([c, c], axis=1), {})
        cam[m] = [str(path)]
        maps[m] = (g[:, 0], c[:, 0])
    return {
        "gbp": gbp,
        "gradcam": cam,
        "images": str(tmp_path / "images.h5"),
        "manifest": str(tmp_path / "manifest.csv"),
    }, maps


def _pictures(page):
    import base64
    import io
    import json
    import re

    from PIL import Image

    items = json.loads(re.search(r"const ITEMS = (\[.*?\]);\n", page).group(1))

    def decode(uri):
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))

    return {it["id"]: (decode(it["a"]), decode(it["b"])) for it in items}


def _shown(g):
    """The display of a gradient, by hand: 0.5 + 0.1 (g - mean) / std, clipped, as uint8 [H, W, 3]."""
    g = g.transpose(1, 2, 0).astype(np.float64)
    return np.round(np.clip((g - g.mean()) / (g.std() + 1e-8) * 0.1 + 0.5, 0, 1) * 255)


def test_kit_samples_only_images_both_models_get_right_and_shows_each_agents_own_maps(tmp_path, kit_inputs):
    import torch

    inputs, maps = kit_inputs
    spec = compute.KitSpec(
        better="vgg",
        n_images=3,
        pool=8,
        methods=["guided_backprop", "guided_gradcam"],
        seed=1,
        question="Which agent seems more reasonable?",
        size=16,
    )
    kw = dict(
        shards=compute.KitShards(inputs["gbp"], inputs["gradcam"]),
        images=inputs["images"],
        manifest=inputs["manifest"],
        names=["zero", "one", "two"],
    )
    key = compute.build_kit(spec, key_path=tmp_path / "key.csv", html_path=tmp_path / "survey.html", **kw)
    # pool = first 8 images; vgg wrong on 1, 4; alexnet wrong on 2 -> sample out of 0, 3, 5, 6, 7
    assert len(key) == 6 and set(key["image_id"]) <= {"im0", "im3", "im5", "im6", "im7"}
    assert key["image_id"].nunique() == 3
    assert key["method"].tolist() == ["guided_backprop", "guided_gradcam"] * 3
    assert (pd.read_csv(tmp_path / "key.csv")["item"] == key["item"]).all()
    page = (tmp_path / "survey.html").read_text()
    shown = _pictures(page)
    for row in key.itertuples():
        i = int(row.image_id[2:])
        assert row._3 == ["zero", "one", "two"][i % 3]  # the class column: the shared label's name
        for agent, picture in zip((row.agent_a, row.agent_b), shown[row.item], strict=True):
            g, c = maps[agent][0][i], maps[agent][1][i]
            if row.method == "guided_gradcam":
                up = torch.nn.functional.interpolate(
                    torch.as_tensor(c)[None, None], size=(16, 16), mode="bilinear", align_corners=False
                )[0, 0].numpy()
                g = g * up
            assert np.abs(picture.astype(float) - _shown(g)).max() <= 1, (row.item, agent)
    again = compute.build_kit(spec, key_path=tmp_path / "key2.csv", html_path=tmp_path / "survey2.html", **kw)
    assert again.equals(key)  # seeded: the same sample and agent order
    # the kit's id: one for the whole key, in the page (the export writes it into every row)
    kit_id = pd.read_csv(tmp_path / "key.csv", dtype=str)["kit"]
    assert kit_id.nunique() == 1 and len(kit_id.iloc[0]) == 12 and f'const SURVEY = "{kit_id.iloc[0]}";' in page
    other = compute.build_kit(
        dataclasses.replace(spec, seed=2), key_path=tmp_path / "key3.csv", html_path=tmp_path / "survey3.html", **kw
    )
    assert other["kit"].iloc[0] != kit_id.iloc[0]  # another draw is another kit


def test_a_kit_of_a_method_it_cannot_show_is_refused_when_it_is_specified():
    with pytest.raises(DataError, match=r"table4.methods: 'gradcam' \(expected guided_backprop or guided_gradcam\)"):
        compute.KitSpec(better="vgg", n_images=1, pool=2, methods=["guided_backprop", "gradcam"], seed=0, question="?")


# --- strict reading (a wrong table must never come out of a malformed file) -----------------------

OK = "Both agents seem equally reasonable"
A2 = "Agent A seems clearly the most reasonable"


def _raw(tmp_path, text, name="answers.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_a_trailing_comma_is_refused_not_shifted(tmp_path, key_csv):
    # pandas reads such a row with the rater id as the index: every answer moves one item left
    path = _raw(tmp_path, f"rater,item01,item02,item03,item04\nr1,{A2},{OK},{OK},{OK},\n")
    with pytest.raises(DataError, match=r"answers.csv: line 2 has 6 fields, the header has 5 .*trailing comma"):
        userstudy.score_answers(path, key_csv)


def test_a_missing_field_is_refused(tmp_path, key_csv):
    path = _raw(tmp_path, f"rater,item01,item02,item03,item04\nr1,{A2},{OK},{OK},{OK}\nr2,{OK},{OK},{OK}\n")
    with pytest.raises(DataError, match=r"line 3 has 4 fields, the header has 5"):
        userstudy.score_answers(path, key_csv)


def test_empty_answers_and_empty_key_name_the_file(tmp_path, key_csv):
    with pytest.raises(DataError, match=r"answers.csv: empty file \(expected answers exported by the survey page"):
        userstudy.score_answers(_raw(tmp_path, ""), key_csv)
    with pytest.raises(DataError, match=r"answers.csv: a header but no rater"):
        userstudy.score_answers(_raw(tmp_path, "rater,item01,item02,item03,item04\n"), key_csv)
    with pytest.raises(DataError, match=r"empty.csv: empty file \(expected a key CSV"):
        userstudy.score_answers(_raw(tmp_path, f"rater,item01\nr1,{OK}\n"), _raw(tmp_path, "\n", "empty.csv"))


def test_utf16_and_bom_exports_are_decoded_and_cp1252_refused_by_name(tmp_path, key_csv):
    text = f"rater,item01,item02,item03,item04\nJosé,{A2},{OK},{OK},{OK}\n"
    plain = userstudy.score_answers(_raw(tmp_path, text), key_csv)
    for enc in ("utf-16", "utf-8-sig"):
        got = userstudy.score_answers(_raw(tmp_path, text, encoding=enc), key_csv)
        pd.testing.assert_frame_equal(got, plain)
        assert got["rater"].iloc[0] == "José"
    with pytest.raises(DataError, match=r"answers.csv: byte \d+ is not UTF-8 .*cp1252"):
        userstudy.score_answers(_raw(tmp_path, text, encoding="cp1252"), key_csv)


def test_answers_of_another_kit_are_refused_naming_both_ids(tmp_path):
    key = tmp_path / "key.csv"
    KEY.assign(kit="abc123").to_csv(key, index=False)
    good = _raw(tmp_path, f"rater,kit,item01,item02,item03,item04\nr1,abc123,{A2},{OK},{OK},{OK}\n", "good.csv")
    assert userstudy.score_answers(good, key, better="vgg")["score"].tolist() == [2, 0, 0, 0]
    stale = _raw(tmp_path, f"rater,kit,item01,item02,item03,item04\nr1,fff999,{A2},{OK},{OK},{OK}\n", "stale.csv")
    with pytest.raises(DataError, match=r"stale.csv: line 2: answers of kit 'fff999', but .*key.csv is kit 'abc123'"):
        userstudy.score_answers(stale, key)
    no_kit = _raw(tmp_path, f"rater,item01,item02,item03,item04\nr1,{A2},{OK},{OK},{OK}\n", "old.csv")
    with pytest.raises(DataError, match=r"old.csv: no kit column, but .*key.csv belongs to kit abc123"):
        userstudy.score_answers(no_kit, key)


def test_paired_test_with_identical_per_rater_means_has_no_p_value():
    # two raters whose mean scores are equal for both methods: every d_r = 0, nothing to rank
    scores = pd.DataFrame(
        {"rater": ["r1", "r1", "r2", "r2"], "method": ["gb", "ggc", "gb", "ggc"], "score": [1.0, 1.0, -2.0, -2.0]}
    )
    out = table.paired_test(scores, ("gb", "ggc"))
    assert out["pairs"] == 2 and np.isnan(out["statistic"]) and np.isnan(out["p_value"])
