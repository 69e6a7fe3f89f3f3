# Table 5 and Appendix E: localization of findings on multi-label chest X-rays (or the digits-multi
# stand-in) -> results/metrics/xray/{dataset}/{model}.csv, results/tables/table5.*, figures.
from cameval.experiments import xray


rule xray_localization:
    input:
        unpack(lambda w: {h: shards(w.dataset, w.model, h) for h in xray.sets(config)}),
        **{k: f"resources/data/{{dataset}}/{v}" for k, v in (("images", "images.h5"), ("manifest", "manifest.csv"))},
        weights="resources/models/{model}.safetensors",
    output:
        "results/metrics/xray/{dataset}/{model}.csv",
    log:
        "logs/metrics/xray/{dataset}/{model}.log",
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
        csv="results/tables/table5.csv",
        md="results/tables/table5.md",
    log:
        "logs/tables/table5.log",
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
        "results/tables/table5.csv",
    output:
        report(
            "results/figures/table5.png",
            caption="../report/table5.rst",
            category=REPORT_CATEGORIES["xray"],
            subcategory="figures",
        ),
    log:
        "logs/figures/table5.log",
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
                **{
                    f"{m}__{h}": shards(config["table5"]["dataset"], m, h)
                    for m in config["table5"]["models"]
                    for h in xray.sets(config)
                },
                "weights": [model_weights(m) for m in config["table5"]["models"]],
            }
        ),
    output:
        report(
            "results/figures/appendix_e.png",
            caption="../report/appendix_e.rst",
            category=REPORT_CATEGORIES["xray"],
            subcategory="figures",
        ),
    log:
        "logs/figures/appendix_e.log",
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
