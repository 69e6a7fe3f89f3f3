"""cameval.paths: the one place each artifact's path is written, the default root's layout as it always was."""

from cameval.paths import Layout, from_environment, layout


def test_the_default_layout_is_the_one_every_run_had():
    p = Layout()
    assert p.shard("digits", "vgg", "gradcam", 0) == "results/heatmaps/digits/vgg/gradcam/shard-0.h5"
    assert p.weights("vgg") == "resources/models/vgg.safetensors"
    assert p.dataset_files("digits") == {
        "images": "resources/data/digits/images.h5",
        "manifest": "resources/data/digits/manifest.csv",
    }
    assert p.metrics("rankcorr", "digits", "vgg", "occ15") == "results/metrics/rankcorr/digits/vgg/occ15.csv"
    assert p.accuracy("digits", "vgg") == "results/metrics/accuracy/digits/vgg.json"
    assert p.attack("one_pixel", "digits", "vgg", 2) == "results/attacks/one_pixel/digits/vgg/shard-2.h5"
    assert p.table_files("table3") == [
        "results/tables/table3.csv",
        "results/tables/table3.md",
        "results/report/table3.html",
    ]
    assert p.log("tables/table3") == "logs/tables/table3.log"
    assert p.benchmark("data/digits") == "benchmarks/data/digits.tsv"


def test_called_without_names_a_method_gives_the_rules_wildcard_pattern():
    p = Layout()
    assert p.shard() == "results/heatmaps/{dataset}/{model}/{heatmap}/shard-{shard}.h5"
    assert p.metrics("pointing", name="{heatmap}") == "results/metrics/pointing/{dataset}/{model}/{heatmap}.csv"
    assert p.table("study/{table}", "md") == "results/tables/study/{table}.md"


def test_another_root_takes_the_runs_files_logs_and_benchmarks_but_not_the_shared_resources():
    p = layout({"results": "runs/b/"})
    assert p.figure("appendix_b") == "runs/b/figures/appendix_b.png"
    assert p.claims("md") == "runs/b/claims.md" and p.report() == "runs/b/report.html"
    assert p.user_study("key.csv") == "runs/b/user_study/key.csv"
    assert p.log("claims") == "runs/b/logs/claims.log"
    assert p.benchmark("models/vgg") == "runs/b/benchmarks/models/vgg.tsv"
    assert p.model_json("vgg") == "resources/models/vgg.json"


def test_the_report_metadata_learns_the_root_from_the_environment(monkeypatch):
    monkeypatch.delenv("CAMEVAL_RESULTS", raising=False)
    assert from_environment().claims("csv") == "results/claims.csv"
    monkeypatch.setenv("CAMEVAL_RESULTS", "results-b")
    assert from_environment().claims("csv") == "results-b/claims.csv"
