# Table 1: weakly supervised localization -> results/metrics/localization/..., results/tables/table1.*
from cameval.experiments import localization


# Per-image metrics -> results/metrics/localization/{dataset}/{model}/{heatmap}.csv, every method of
# Table 1 in one job per model: the metrics take a second, a job's start-up (torch) three
rule localization:
    input:
        unpack(lambda w: read_shards("localization", w.dataset, w.model)),
        manifest=PATHS.manifest(),
        weights=PATHS.weights(),
    output:
        [PATHS.metrics("localization", name=h) for h in config["table1"]["methods"]],
    log:
        PATHS.log("metrics/localization/{dataset}/{model}"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(30),
    params:
        methods=config["table1"]["methods"],
        threshold=config["table1"]["threshold"],
        rule=config["table1"]["rule"],
        expected=lambda w: [shard_count(w.dataset, h) for h in config["table1"]["methods"]],
        specs=lambda w: heatmap_specs(w.model, config["table1"]["methods"]),
    script:
        "../scripts/localization.py"


rule table1:
    input:
        unpack(lambda w: localization.table_inputs(config)),
        unpack(lambda w: accuracy_inputs(config, config["table1"]["models"])),
    output:
        csv=PATHS.table("table1"),
        md=PATHS.table("table1", "md"),
    log:
        PATHS.log("tables/table1"),
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
