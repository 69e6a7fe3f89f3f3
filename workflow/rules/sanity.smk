# Sanity checks (Adebayo et al. 2018): model and data randomization -> results/maps/sanity/...,
# results/metrics/sanity/..., results/tables/sanity.*, results/figures/sanity_{cascade,curves}.png
from cameval.experiments import sanity


# every method's maps on each randomized copy of a model and on its shuffled-label twin, and their similarity
rule sanity_maps:
    input:
        unpack(lambda w: dataset_files(w.dataset)),
        unpack(lambda w: read_shards("sanity", w.dataset, w.model, config["sanity"]["images"], "set__{set}")),
        unpack(
            lambda w: (
                {"twin": model_weights(config["sanity"]["shuffled"][w.model])}
                if w.model in config["sanity"]["shuffled"]
                else {}
            )
        ),
        weights=PATHS.weights(),
    output:
        maps=PATHS.maps("sanity"),
        rows=PATHS.metrics("sanity"),
    log:
        PATHS.log("maps/sanity/{dataset}/{model}"),
    benchmark:
        PATHS.benchmark("maps/sanity/{dataset}/{model}")
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(lambda w: config["sanity"]["mem_mb"]),
        runtime=per_attempt(lambda w: config["sanity"]["runtime"]),
        gpu=lambda w: 1 if config["device"] == "cuda" else 0,
    params:
        cfg=config["sanity"],
        specs=lambda w: heatmap_specs(w.model, config["sanity"]["methods"]),
        twin=lambda w: config["sanity"]["shuffled"].get(w.model),
        split=lambda w: config["datasets"][w.dataset]["eval_split"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/sanity_maps.py"


rule sanity_table:
    input:
        unpack(lambda w: sanity.table_inputs(config)),
    output:
        csv=PATHS.table("sanity"),
        md=PATHS.table("sanity", "md"),
    log:
        PATHS.log("tables/sanity"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    params:
        cfg=config["sanity"],
        n_boot=config["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/sanity_table.py"


rule sanity_figures:
    input:
        table=PATHS.table("sanity"),
        maps=PATHS.maps("sanity", config["sanity"]["dataset"], config["sanity"]["models"][0]),
    output:
        cascade=report(
            PATHS.figure("sanity_cascade"),
            caption="../report/sanity_cascade.rst",
            category=REPORT_CATEGORIES["sanity"],
            subcategory="figures",
        ),
        curves=report(
            PATHS.figure("sanity_curves"),
            caption="../report/sanity_curves.rst",
            category=REPORT_CATEGORIES["sanity"],
            subcategory="figures",
        ),
    log:
        PATHS.log("figures/sanity"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(10),
    params:
        n_images=config["sanity"]["figure_images"],
        model=config["sanity"]["models"][0],
    script:
        "../scripts/sanity_figures.py"
