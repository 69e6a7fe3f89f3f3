# Table 2: the pointing game -> results/metrics/pointing/..., results/tables/table2.*
from cameval.experiments import pointing


# Per-image outcome -> results/metrics/pointing/{dataset}/{model}/{heatmap}.csv, every heatmap set of
# Table 2 in one job per model (a job's start-up costs more than its metrics)
rule pointing:
    input:
        unpack(lambda w: read_shards("pointing", w.dataset, w.model)),
        manifest=PATHS.manifest(),
        weights=PATHS.weights(),
    output:
        [PATHS.metrics("pointing", name=h) for h in config["table2"]["heatmaps"]],
    log:
        PATHS.log("metrics/pointing/{dataset}/{model}"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(30),
    params:
        heatmaps=config["table2"]["heatmaps"],
        tolerances=config["table2"]["tolerances"],
        threshold=config["table2"]["threshold"],
        scale=config["table2"]["scale"],
        expected=lambda w: [shard_count(w.dataset, h) for h in config["table2"]["heatmaps"]],
        specs=lambda w: heatmap_specs(w.model, config["table2"]["heatmaps"]),
    script:
        "../scripts/pointing.py"


rule table2:
    input:
        unpack(lambda w: pointing.table_inputs(config)),
        unpack(lambda w: accuracy_inputs(config, config["table2"]["models"])),
    output:
        csv=PATHS.table("table2"),
        md=PATHS.table("table2", "md"),
    log:
        PATHS.log("tables/table2"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    params:
        cfg=config["table2"],
        methods={h: config["heatmaps"][h]["method"] for h in config["table2"]["heatmaps"]},
        notes=pointing.notes(config["table2"], config["heatmaps"], n_eval(config["table2"]["dataset"])),
        n_boot=config["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/table2.py"
