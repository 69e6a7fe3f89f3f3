# Heatmap shards -> results/heatmaps/{dataset}/{model}/{heatmap}/shard-{shard}.h5
# `heatmap` is a key of config["heatmaps"]: a method, its parameters and the classes explained.


rule heatmaps:
    input:
        unpack(lambda w: dataset_files(w.dataset)),
        unpack(lambda w: accepted(w.model)),
        weights=PATHS.weights(),
    output:
        PATHS.shard(),
    log:
        PATHS.log("heatmaps/{dataset}/{model}/{heatmap}/shard-{shard}"),
    benchmark:
        PATHS.benchmark("heatmaps/{dataset}/{model}/{heatmap}/shard-{shard}")
    wildcard_constraints:
        shard=r"\d+",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(lambda w: config["heatmaps"][w.heatmap]["mem_mb"]),
        runtime=per_attempt(lambda w: config["heatmaps"][w.heatmap]["runtime"]),
        gpu=lambda w: 1 if config["device"] == "cuda" else 0,
    params:
        sets=lambda w: [heatmap_job(w.dataset, w.model, w.heatmap, int(w.shard))],
        split=lambda w: config["datasets"][w.dataset]["eval_split"],
        expected=lambda w: n_eval(w.dataset),
        classes=lambda w: config["models"][w.model].get("classes"),
        dataset=lambda w: w.dataset,
        model=lambda w: w.model,
        device=config["device"],
    script:
        "../scripts/heatmaps.py"


# heatmap_bundles: true (the embedded default, the tiny config): one job per (dataset, model) computes
# the first shard of every set the experiments read of it (registry.heatmap_sets) that does not say
# bundle: false, in place of one `heatmaps` job each; later shards stay jobs of their own.
for _rule, _dataset, _model, _sets in heatmap_bundles():

    rule:
        name:
            _rule
        input:
            **dataset_files(_dataset),
            **accepted(_model),
            weights=PATHS.weights(_model),
        output:
            [PATHS.shard(_dataset, _model, h, 0) for h in _sets],
        log:
            PATHS.log(f"heatmaps/{_dataset}/{_model}/first-shards"),
        benchmark:
            PATHS.benchmark(f"heatmaps/{_dataset}/{_model}/first-shards")
        conda:
            "../../envs/cameval.yaml"
        threads: 1
        resources:
            mem_mb=per_attempt(max(config["heatmaps"][h]["mem_mb"] for h in _sets)),
            runtime=per_attempt(sum(config["heatmaps"][h]["runtime"] for h in _sets)),
            gpu=1 if config["device"] == "cuda" else 0,
        params:
            sets=[heatmap_job(_dataset, _model, h, 0) for h in _sets],
            split=config["datasets"][_dataset]["eval_split"],
            expected=n_eval(_dataset),
            classes=config["models"][_model].get("classes"),
            dataset=_dataset,
            model=_model,
            device=config["device"],
        script:
            "../scripts/heatmaps.py"

    workflow.ruleorder(_rule, "heatmaps")
