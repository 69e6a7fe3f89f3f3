"""Table 2's notes say what the recall means for pytorch-grad-cam's sets (their maps are taken
before the library's min-max scaling, FullGrad and aug_smooth excepted)."""

from cameval.experiments.pointing import notes

CFG = {"tolerances": [0, 4], "threshold": 0.5, "scale": "image", "heatmaps": ["gradcam", "layercam", "fullgrad"]}


def test_table2_notes_say_library_recall_means_what_it_means_for_grad_cam():
    heatmaps = {
        "gradcam": {"method": "gradcam"},
        "layercam": {"method": "pytorch_grad_cam:LayerCAM"},
        "fullgrad": {"method": "pytorch_grad_cam:FullGrad"},
    }
    text = " ".join(notes(CFG, heatmaps))
    assert "sets here (layercam, fullgrad) hold the library's per-layer CAM before that scaling" in text
    assert "Except fullgrad: FullGrad and test-time augmentation" in text
    only = " ".join(notes({**CFG, "heatmaps": ["gradcam", "layercam"]}, heatmaps))
    assert "means for them what it means for Grad-CAM" in only and "Except" not in only
    assert "per-layer CAM" not in " ".join(notes({**CFG, "heatmaps": ["gradcam"]}, heatmaps))
