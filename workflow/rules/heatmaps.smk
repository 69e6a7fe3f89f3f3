# Heatmap shards -> results/heatmaps/{dataset}/{model}/{heatmap}/shard-{shard}.h5
# `heatmap` is a key of config["heatmaps"]: a method, its parameters and the classes explained.


def heatmap_spec(wildcards):
    return config["heatmaps"][wildcards.heatmap]


rule heatmaps:
    input:
        unpack(lambda w: dataset_files(w.dataset)),
        weights="resources/models/{model}.safetensors",
    output:
        "results/heatmaps/{dataset}/{model}/{heatmap}/shard-{shard}.h5",
    wildcard_constraints:
        shard=r"\d+",
    params:
        spec=heatmap_spec,
        rows=lambda w: shard_rows(w.dataset, w.heatmap, int(w.shard)),
        split=lambda w: config["datasets"][w.dataset]["eval_split"],
        layer=lambda w: heatmap_spec(w).get("layer") or config["models"][w.model].get("layer"),
        classes=lambda w: config["models"][w.model].get("classes"),
        device=config["device"],
    threads: 1
    resources:
        mem_mb=lambda w: heatmap_spec(w)["mem_mb"],
        runtime=lambda w: heatmap_spec(w)["runtime"],
        gpu=lambda w: 1 if config["device"] == "cuda" else 0,
    conda:
        "../../envs/cameval.yaml"
    log:
        "logs/heatmaps/{dataset}/{model}/{heatmap}/shard-{shard}.log",
    benchmark:
        "benchmarks/heatmaps/{dataset}/{model}/{heatmap}/shard-{shard}.tsv"
    script:
        "../scripts/heatmaps.py"
