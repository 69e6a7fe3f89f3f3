# Figure 1 / Appendix A: the methods side by side -> results/figures/figure1.png
from cameval.experiments import gallery


rule figure1:
    input:
        unpack(lambda w: gallery.figure_inputs(config)),
        **dataset_files(config["figure1"]["dataset"]),
        weights=[model_weights(m) for m in config["figure1"]["models"]],
    output:
        report(
            PATHS.figure("figure1"),
            caption="../report/figure1.rst",
            category=REPORT_CATEGORIES["gallery"],
            subcategory="figures",
        ),
    log:
        PATHS.log("figures/figure1"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(10),
    params:
        n_images=config["figure1"]["images"],
        extra=gallery.extra_labels(config),
        specs=lambda w: {
            m: heatmap_specs(m, [*gallery.HEATMAPS, *config["figure1"]["methods"]])
            for m in config["figure1"]["models"]
        },
    script:
        "../scripts/figure1.py"
