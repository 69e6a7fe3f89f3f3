# Deletion / insertion (Petsiuk et al. 2018) and ROAD (Rong et al. 2022) -> results/metrics/deletion/...,
# results/tables/deletion.*, results/figures/deletion_curves.png, results/figures/road.png
from cameval.experiments import deletion


# every method's deletion and insertion curves and ROAD's MoRF / LeRF correctness, per image
rule deletion_rows:
    input:
        unpack(lambda w: dataset_files(w.dataset)),
        unpack(
            lambda w: {
                f"set__{h}": shards(w.dataset, w.model, h, config["deletion"]["images"])
                for h in config["deletion"]["methods"]
            }
        ),
        weights="resources/models/{model}.safetensors",
    output:
        rows="results/metrics/deletion/{dataset}/{model}.csv",
        curves="results/metrics/deletion/{dataset}/{model}.h5",
    log:
        "logs/metrics/deletion/{dataset}/{model}.log",
    benchmark:
        "benchmarks/metrics/deletion/{dataset}/{model}.tsv"
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(lambda w: config["deletion"]["mem_mb"]),
        runtime=per_attempt(lambda w: config["deletion"]["runtime"]),
        gpu=lambda w: 1 if config["device"] == "cuda" else 0,
    params:
        cfg=config.get("deletion", {}),
        specs=lambda w: heatmap_specs(w.model, config["deletion"]["methods"]),
        split=lambda w: config["datasets"][w.dataset]["eval_split"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/deletion_rows.py"


rule deletion_table:
    input:
        unpack(lambda w: deletion.table_inputs(config)),
    output:
        csv="results/tables/deletion.csv",
        md="results/tables/deletion.md",
    log:
        "logs/tables/deletion.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    params:
        cfg=config.get("deletion", {}),
        datasets=lambda w: {m: model_dataset(m) for m in config["deletion"]["models"]},
        sizes=lambda w: {
            m: deletion.map_side(config["datasets"][model_dataset(m)]) for m in config["deletion"]["models"]
        },
        n_boot=config["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/deletion_table.py"


rule deletion_figures:
    input:
        unpack(lambda w: {f"curves__{m}": f for m, f in deletion.curve_inputs(config).items()}),
        table="results/tables/deletion.csv",
    output:
        curves=report(
            "results/figures/deletion_curves.png",
            caption="../report/deletion_curves.rst",
            category=REPORT_CATEGORIES["deletion"],
            subcategory="figures",
        ),
        road=report(
            "results/figures/road.png",
            caption="../report/road.rst",
            category=REPORT_CATEGORIES["deletion"],
            subcategory="figures",
        ),
    log:
        "logs/figures/deletion.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(10),
    params:
        models=config.get("deletion", {}).get("models", []),
        n_boot=config["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/deletion_figures.py"
