# Table 7 and Appendix G: fidelity and contrastivity -> results/maps/table7/..., results/metrics/fidelity/...,
# results/tables/table7.*, results/figures/appendix_g.png
from cameval.experiments import faithfulness


# Table 7, Appendix G: every class's map by Grad-CAM, SHAP and IG -> results/maps/table7/{dataset}/{model}.h5
rule class_maps:
    input:
        unpack(lambda w: dataset_files(w.dataset)),
        unpack(lambda w: accepted(w.model)),
        weights=PATHS.weights(),
    output:
        PATHS.maps("table7"),
    log:
        PATHS.log("maps/table7/{dataset}/{model}"),
    benchmark:
        PATHS.benchmark("maps/table7/{dataset}/{model}")
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(lambda w: config["table7"]["mem_mb"]),
        runtime=per_attempt(lambda w: config["table7"]["runtime"]),
        gpu=lambda w: 1 if config["device"] == "cuda" else 0,
    params:
        cfg=config["table7"],
        images=lambda w: faithfulness.images_of(config, w.model),
        split=lambda w: config["datasets"][w.dataset]["eval_split"],
        layer=lambda w: config["models"][w.model].get("layer"),
        seed=config["seed"],
        device=config["device"],
        sources=own_sources(config["table7"]["methods"]),
    script:
        "../scripts/class_maps.py"


rule fidelity:
    input:
        unpack(lambda w: dataset_files(w.dataset)),
        unpack(lambda w: accepted(w.model)),
        maps=PATHS.maps("table7"),
        weights=PATHS.weights(),
    output:
        PATHS.metrics("fidelity"),
    log:
        PATHS.log("metrics/fidelity/{dataset}/{model}"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(30),
        gpu=lambda w: 1 if config["device"] == "cuda" else 0,  # runs the model on config["device"]
    params:
        percentiles=config["table7"]["percentiles"],
        device=config["device"],
        expected=lambda w: min(faithfulness.images_of(config, w.model), n_eval(w.dataset)),
    script:
        "../scripts/fidelity.py"


rule table7:
    input:
        unpack(lambda w: faithfulness.table_inputs(config)),
    output:
        csv=PATHS.table("table7"),
        md=PATHS.table("table7", "md"),
    log:
        PATHS.log("tables/table7"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    params:
        cfg=config["table7"],
        datasets=lambda w: {m: model_dataset(m) for m in config["table7"]["models"]},
        kinds=lambda w: {m: config["datasets"][model_dataset(m)]["kind"] for m in config["table7"]["models"]},
        images=lambda w: {m: faithfulness.images_of(config, m) for m in config["table7"]["models"]},
        n_boot=config["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/table7.py"


rule appendix_g:
    input:
        unpack(lambda w: {m: PATHS.maps("table7", model_dataset(m), m) for m in config["table7"]["models"]}),
        weights=[model_weights(m) for m in config["table7"]["models"]],
        manifests=[PATHS.manifest(model_dataset(m)) for m in config["table7"]["models"]],
    output:
        report(
            PATHS.figure("appendix_g"),
            caption="../report/appendix_g.rst",
            category=REPORT_CATEGORIES["faithfulness"],
            subcategory="figures",
        ),
    log:
        PATHS.log("figures/appendix_g"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(10),
    params:
        n_images=config["table7"]["figure_images"],
        datasets=lambda w: {m: config["datasets"][model_dataset(m)] for m in config["table7"]["models"]},
        models=config["table7"]["models"],
    script:
        "../scripts/appendix_g.py"
