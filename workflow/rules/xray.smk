# Table 5 and Appendix E: localization of findings on multi-label chest X-rays (or the digits-multi
# stand-in) -> results/metrics/xray/{dataset}/{model}.csv, results/tables/table5.*, figures.
from cameval.experiments import xray


rule xray_localization:
    input:
        unpack(lambda w: read_shards("xray", w.dataset, w.model)),
        **PATHS.dataset_files(),
        weights=PATHS.weights(),
    output:
        PATHS.metrics("xray"),
    log:
        PATHS.log("metrics/xray/{dataset}/{model}"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(30),
    params:
        sets=xray.sets(config),
        box_threshold=config["table5"]["box_threshold"],
        inbox_threshold=config["table5"]["inbox_threshold"],
        reduce=config["table5"]["reduce"],
        expected=lambda w: n_eval(w.dataset),
        specs=lambda w: heatmap_specs(w.model, xray.sets(config)),
    script:
        "../scripts/xray_rows.py"


rule table5:
    input:
        unpack(lambda w: xray.table_inputs(config)),
    output:
        csv=PATHS.table("table5"),
        md=PATHS.table("table5", "md"),
    log:
        PATHS.log("tables/table5"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    params:
        cfg=config["table5"],
        sets=xray.set_meta(config),
        n_boot=config["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/table5.py"


rule table5_figure:
    input:
        PATHS.table("table5"),
    output:
        report(
            PATHS.figure("table5"),
            caption="../report/table5.rst",
            category=REPORT_CATEGORIES["xray"],
            subcategory="figures",
        ),
    log:
        PATHS.log("figures/table5"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    script:
        "../scripts/table5_figure.py"


rule appendix_e:
    input:
        unpack(
            lambda w: {
                **dataset_files(config["table5"]["dataset"]),
                **{f"{m}__{h}": shards(d, m, h) for d, m, h in EXPERIMENTS["xray"].heatmaps(config)},
                "weights": [model_weights(m) for m in config["table5"]["models"]],
            }
        ),
    output:
        report(
            PATHS.figure("appendix_e"),
            caption="../report/appendix_e.rst",
            category=REPORT_CATEGORIES["xray"],
            subcategory="figures",
        ),
    log:
        PATHS.log("figures/appendix_e"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(10),
    params:
        titles=lambda w: {h: f"{v['method']}\n({v['layer']})" for h, v in xray.set_meta(config).items()},
        n_images=config["table5"]["figure_images"],
        seed=config["seed"],
        reduce=config["table5"]["reduce"],
        expected=lambda w: n_eval(config["table5"]["dataset"]),
        specs=lambda w: {m: heatmap_specs(m, xray.sets(config)) for m in config["table5"]["models"]},
    script:
        "../scripts/appendix_e.py"
