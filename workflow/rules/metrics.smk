# Per-image metrics -> results/metrics/{experiment}/{dataset}/{model}/{heatmap}.csv


rule localization:
    input:
        shards=lambda w: shards(w.dataset, w.model, w.heatmap),
        manifest="resources/data/{dataset}/manifest.csv",
    output:
        "results/metrics/localization/{dataset}/{model}/{heatmap}.csv",
    log:
        "logs/metrics/localization/{dataset}/{model}/{heatmap}.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(30),
    params:
        threshold=config["table1"]["threshold"],
        rule=config["table1"]["rule"],
        expected=lambda w: shard_count(w.dataset, w.heatmap),
    script:
        "../scripts/localization.py"


rule pointing:
    input:
        shards=lambda w: shards(w.dataset, w.model, config["table2"]["heatmap"]),
        manifest="resources/data/{dataset}/manifest.csv",
    output:
        "results/metrics/pointing/{dataset}/{model}.csv",
    log:
        "logs/metrics/pointing/{dataset}/{model}.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(30),
    params:
        tolerances=config["table2"]["tolerances"],
        threshold=config["table2"]["threshold"],
        scale=config["table2"]["scale"],
        expected=lambda w: shard_count(w.dataset, config["table2"]["heatmap"]),
    script:
        "../scripts/pointing.py"


def rankcorr_inputs(wildcards):
    t, n = config["table3"], config["table3"]["images"]
    files = {"occlusion": shards(wildcards.dataset, wildcards.model, wildcards.occlusion, n)}
    for method in ("gradcam", "guided_backprop"):
        files[method] = shards(wildcards.dataset, wildcards.model, t[method], n)
    return files


rule rank_correlation:
    input:
        unpack(rankcorr_inputs),
    output:
        "results/metrics/rankcorr/{dataset}/{model}/{occlusion}.csv",
    log:
        "logs/metrics/rankcorr/{dataset}/{model}/{occlusion}.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(30),
    params:
        images=config["table3"]["images"],
        size=config["table3"]["size"],
        reduce=config["table3"]["reduce"],
        expected=lambda w: {
            "occlusion": shard_count(w.dataset, w.occlusion, config["table3"]["images"]),
            **{
                k: shard_count(w.dataset, config["table3"][k], config["table3"]["images"])
                for k in ("gradcam", "guided_backprop")
            },
        },
    script:
        "../scripts/rankcorr.py"


rule sensitivity:
    input:
        shards=lambda w: attack_shards(w.dataset, w.model),
    output:
        "results/metrics/one_pixel/{dataset}/{model}.csv",
    log:
        "logs/metrics/one_pixel/{dataset}/{model}.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(30),
    params:
        expected=lambda w: n_attacked(w.dataset),
    script:
        "../scripts/sensitivity.py"


rule fidelity:
    input:
        unpack(lambda w: dataset_files(w.dataset)),
        maps="results/maps/table7/{dataset}/{model}.h5",
        weights="resources/models/{model}.safetensors",
    output:
        "results/metrics/fidelity/{dataset}/{model}.csv",
    log:
        "logs/metrics/fidelity/{dataset}/{model}.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(30),
        gpu=lambda w: 1 if config["device"] == "cuda" else 0,  # runs the model on config["device"]
    params:
        percentiles=config.get("table7", {}).get("percentiles"),
        device=config["device"],
        expected=lambda w: min(table7_images(w.model), n_eval(w.dataset)),
    script:
        "../scripts/fidelity.py"


# Table 7: each model's top-1 accuracy on its whole evaluation split (stated in the table's notes)
rule model_accuracy:
    input:
        unpack(lambda w: dataset_files(w.dataset)),
        weights="resources/models/{model}.safetensors",
    output:
        "results/metrics/accuracy/{dataset}/{model}.json",
    log:
        "logs/metrics/accuracy/{dataset}/{model}.log",
    benchmark:
        "benchmarks/metrics/accuracy/{dataset}/{model}.tsv"
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(10),
        gpu=lambda w: 1 if config["device"] == "cuda" else 0,
    params:
        split=lambda w: config["datasets"][w.dataset]["eval_split"],
        device=config["device"],
    script:
        "../scripts/model_accuracy.py"
