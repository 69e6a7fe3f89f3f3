# Sanity checks (Adebayo et al. 2018): model and data randomization -> results/maps/sanity/...,
# results/metrics/sanity/..., results/tables/sanity.*, results/figures/sanity_{cascade,curves}.png
from cameval.experiments import sanity


# every method's maps on each randomized copy of a model and on its shuffled-label twin, and their similarity
rule sanity_maps:
    input:
        unpack(lambda w: dataset_files(w.dataset)),
        unpack(
            lambda w: {
                f"set__{h}": shards(w.dataset, w.model, h, config["sanity"]["images"])
                for h in config["sanity"]["methods"]
            }
        ),
        unpack(
            lambda w: (
                {"twin": f"resources/models/{config['sanity']['shuffled'][w.model]}.safetensors"}
                if w.model in config["sanity"]["shuffled"]
                else {}
            )
        ),
        weights="resources/models/{model}.safetensors",
    output:
        maps="results/maps/sanity/{dataset}/{model}.h5",
        rows="results/metrics/sanity/{dataset}/{model}.csv",
    log:
        "logs/maps/sanity/{dataset}/{model}.log",
    benchmark:
        "benchmarks/maps/sanity/{dataset}/{model}.tsv"
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(lambda w: config["sanity"]["mem_mb"]),
        runtime=per_attempt(lambda w: config["sanity"]["runtime"]),
        gpu=lambda w: 1 if config["device"] == "cuda" else 0,
    params:
        cfg=config.get("sanity", {}),
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
        csv="results/tables/sanity.csv",
        md="results/tables/sanity.md",
    log:
        "logs/tables/sanity.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    params:
        cfg=config.get("sanity", {}),
        n_boot=config["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/sanity_table.py"


rule sanity_figures:
    input:
        table="results/tables/sanity.csv",
        maps=lambda w: f"results/maps/sanity/{config['sanity']['dataset']}/{config['sanity']['models'][0]}.h5",
    output:
        cascade=report(
            "results/figures/sanity_cascade.png",
            caption="../report/sanity_cascade.rst",
            category=REPORT_CATEGORIES["sanity"],
            subcategory="figures",
        ),
        curves=report(
            "results/figures/sanity_curves.png",
            caption="../report/sanity_curves.rst",
            category=REPORT_CATEGORIES["sanity"],
            subcategory="figures",
        ),
    log:
        "logs/figures/sanity.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(10),
    params:
        n_images=config.get("sanity", {}).get("figure_images"),
        model=config.get("sanity", {}).get("models", [""])[0],
    script:
        "../scripts/sanity_figures.py"
