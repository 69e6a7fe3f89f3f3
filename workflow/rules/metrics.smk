# Per-image metrics -> results/metrics/{experiment}/{dataset}/{model}/{heatmap}.csv


rule localization:
    input:
        shards=lambda w: shards(w.dataset, w.model, w.heatmap),
        manifest="resources/data/{dataset}/manifest.csv",
    output:
        "results/metrics/localization/{dataset}/{model}/{heatmap}.csv",
    params:
        threshold=config["table1"]["threshold"],
        rule=config["table1"]["rule"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/cameval.yaml"
    log:
        "logs/metrics/localization/{dataset}/{model}/{heatmap}.log",
    script:
        "../scripts/localization.py"
