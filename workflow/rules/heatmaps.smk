# Heatmap shards -> results/heatmaps/{dataset}/{model}/{heatmap}/shard-{shard}.h5
# `heatmap` is a key of config["heatmaps"]: a method, its parameters and the classes explained.


rule heatmaps:
    input:
        unpack(lambda w: dataset_files(w.dataset)),
        weights="resources/models/{model}.safetensors",
    output:
        "results/heatmaps/{dataset}/{model}/{heatmap}/shard-{shard}.h5",
    log:
        "logs/heatmaps/{dataset}/{model}/{heatmap}/shard-{shard}.log",
    benchmark:
        "benchmarks/heatmaps/{dataset}/{model}/{heatmap}/shard-{shard}.tsv"
    wildcard_constraints:
        shard=r"\d+",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(lambda w: heatmap_spec(w)["mem_mb"]),
        runtime=per_attempt(lambda w: heatmap_spec(w)["runtime"]),
        gpu=lambda w: 1 if config["device"] == "cuda" else 0,
    params:
        sets=lambda w: [heatmap_job(w.model, w.heatmap)],
        rows=lambda w: shard_rows(w.dataset, w.heatmap, int(w.shard)),
        split=lambda w: config["datasets"][w.dataset]["eval_split"],
        expected=lambda w: n_eval(w.dataset),
        classes=lambda w: config["models"][w.model].get("classes"),
        device=config["device"],
    script:
        "../scripts/heatmaps.py"
