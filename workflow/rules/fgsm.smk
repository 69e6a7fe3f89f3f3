# Appendix C: FGSM -> results/attacks/fgsm/... (images and maps, for the figure), results/metrics/fgsm/...
# (one row per image), results/tables/fgsm.*, results/figures/appendix_c.png
from cameval.experiments import fgsm as fgsm_experiment


# Adversarial attacks -> results/attacks/{attack}/{dataset}/{model}.h5 (images and maps, for the
# figures) and results/metrics/{attack}/{dataset}/{model}.csv (one row per image)
rule fgsm:
    input:
        unpack(lambda w: dataset_files(w.dataset)),
        unpack(lambda w: accepted(w.model)),
        weights=PATHS.weights(),
    output:
        rows=PATHS.metrics("fgsm"),
        maps=PATHS.attack("fgsm"),
    log:
        PATHS.log("attacks/fgsm/{dataset}/{model}"),
    benchmark:
        PATHS.benchmark("attacks/fgsm/{dataset}/{model}")
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(4000),
        runtime=per_attempt(60),
    params:
        split=lambda w: config["datasets"][w.dataset]["eval_split"],
        images=config["fgsm"]["images"],
        eps=config["fgsm"]["eps"],
        threshold=fgsm_experiment.box_threshold(config),
        layer=lambda w: config["models"][w.model].get("layer"),
    script:
        "../scripts/fgsm.py"


rule fgsm_table:
    input:
        unpack(lambda w: {m: PATHS.metrics("fgsm", config["fgsm"]["dataset"], m) for m in config["fgsm"]["models"]}),
        unpack(lambda w: accuracy_inputs(config, config["fgsm"]["models"])),
    output:
        csv=PATHS.table("fgsm"),
        md=PATHS.table("fgsm", "md"),
    log:
        PATHS.log("tables/fgsm"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    params:
        eps=config["fgsm"]["eps"],
        n_boot=config["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/fgsm_table.py"


rule appendix_c:
    input:
        unpack(lambda w: {m: PATHS.attack("fgsm", config["fgsm"]["dataset"], m) for m in config["fgsm"]["models"]}),
        weights=[model_weights(m) for m in config["fgsm"]["models"]],
        manifest=PATHS.manifest(config["fgsm"]["dataset"]),
    output:
        report(
            PATHS.figure("appendix_c"),
            caption="../report/appendix_c.rst",
            category=REPORT_CATEGORIES["fgsm"],
            subcategory="figures",
        ),
    log:
        PATHS.log("figures/appendix_c"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(10),
    params:
        n_images=config["fgsm"]["figure_images"],
        models=config["fgsm"]["models"],
    script:
        "../scripts/appendix_c.py"
