# Deletion / insertion (Petsiuk et al. 2018) and ROAD (Rong et al. 2022) -> results/metrics/deletion/...,
# results/tables/deletion.*, results/figures/deletion_curves.png, results/figures/road.png
from cameval.experiments import deletion


# every method's deletion and insertion curves and ROAD's MoRF / LeRF correctness, per image
rule deletion_rows:
    input:
        unpack(lambda w: dataset_files(w.dataset)),
        unpack(lambda w: read_shards("deletion", w.dataset, w.model, config["deletion"]["images"], "set__{set}")),
        weights=PATHS.weights(),
    output:
        rows=PATHS.metrics("deletion"),
        curves=PATHS.metrics("deletion", ext="h5"),
    log:
        PATHS.log("metrics/deletion/{dataset}/{model}"),
    benchmark:
        PATHS.benchmark("metrics/deletion/{dataset}/{model}")
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(lambda w: config["deletion"]["mem_mb"]),
        runtime=per_attempt(lambda w: config["deletion"]["runtime"]),
        gpu=lambda w: 1 if config["device"] == "cuda" else 0,
    params:
        cfg=config["deletion"],
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
        csv=PATHS.table("deletion"),
        md=PATHS.table("deletion", "md"),
    log:
        PATHS.log("tables/deletion"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    params:
        cfg=config["deletion"],
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
        table=PATHS.table("deletion"),
    output:
        curves=report(
            PATHS.figure("deletion_curves"),
            caption="../report/deletion_curves.rst",
            category=REPORT_CATEGORIES["deletion"],
            subcategory="figures",
        ),
        road=report(
            PATHS.figure("road"),
            caption="../report/road.rst",
            category=REPORT_CATEGORIES["deletion"],
            subcategory="figures",
        ),
    log:
        PATHS.log("figures/deletion"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(10),
    params:
        models=config["deletion"]["models"],
        n_boot=config["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/deletion_figures.py"
