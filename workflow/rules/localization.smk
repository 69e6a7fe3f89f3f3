# Table 1: weakly supervised localization -> results/metrics/localization/..., results/tables/table1.*
from cameval.experiments import localization


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


rule table1:
    input:
        unpack(lambda w: localization.table_inputs(config)),
    output:
        csv="results/tables/table1.csv",
        md="results/tables/table1.md",
    log:
        "logs/tables/table1.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    params:
        reference=config["table1"]["reference"],
        n_boot=config["bootstrap"],
        seed=config["seed"],
        rule=config["table1"]["rule"],
        threshold=config["table1"]["threshold"],
    script:
        "../scripts/table1.py"
