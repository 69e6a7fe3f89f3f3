# Table 3 and Appendix B: rank correlation with occlusion -> results/metrics/rankcorr/..., results/tables/table3.*,
# results/figures/appendix_b.png
from cameval.experiments import occlusion
from cameval.experiments.occlusion import table as occlusion_table


rule rank_correlation:
    input:
        unpack(
            lambda w: {
                "occlusion": shards(w.dataset, w.model, w.occlusion, config["table3"]["images"]),
                **{
                    column: shards(w.dataset, w.model, h, config["table3"]["images"])
                    for column, h in occlusion.map_sets(config).items()
                },
            }
        ),
        manifest=PATHS.manifest(),
        weights=PATHS.weights(),
    output:
        PATHS.metrics("rankcorr", name="{occlusion}"),
    log:
        PATHS.log("metrics/rankcorr/{dataset}/{model}/{occlusion}"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(30),
    params:
        images=config["table3"]["images"],
        size=config["table3"]["size"],
        reduce=config["table3"]["reduce"],
        expected=lambda w: {
            "occlusion": shard_count(w.dataset, w.occlusion, config["table3"]["images"]),
            **{
                column: shard_count(w.dataset, h, config["table3"]["images"])
                for column, h in occlusion.map_sets(config).items()
            },
        },
        specs=lambda w: {
            "occlusion": heatmap_spec(w.model, w.occlusion),
            **{column: heatmap_spec(w.model, h) for column, h in occlusion.map_sets(config).items()},
        },
    script:
        "../scripts/rankcorr.py"


rule table3:
    input:
        unpack(lambda w: occlusion.table_inputs(config)),
        unpack(lambda w: accuracy_inputs(config, config["table3"]["models"])),
    output:
        csv=PATHS.table("table3"),
        md=PATHS.table("table3", "md"),
    log:
        PATHS.log("tables/table3"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    params:
        cfg=config["table3"],
        patches=occlusion.patches(config),
        extra=occlusion.extra_labels(config),
        notes=occlusion_table.notes(config["table3"], config["heatmaps"]),
        n_boot=config["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/table3.py"


rule appendix_b:
    input:
        unpack(
            lambda w: {
                "gradcam": shards(
                    config["table3"]["dataset"], config["table3"]["models"][0], config["table3"]["gradcam"], 1
                ),
                **{
                    occ: shards(config["table3"]["dataset"], config["table3"]["models"][0], occ, 1)
                    for occ in config["table3"]["occlusion"]
                },
            }
        ),
        **dataset_files(config["table3"]["dataset"]),
        weights=model_weights(config["table3"]["models"][0]),
    output:
        report(
            PATHS.figure("appendix_b"),
            caption="../report/appendix_b.rst",
            category=REPORT_CATEGORIES["occlusion"],
            subcategory="figures",
        ),
    log:
        PATHS.log("figures/appendix_b"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(10),
    params:
        titles={
            k: "occlusion {0}×{0}".format(config["heatmaps"][k]["params"]["patch"])
            for k in config["table3"]["occlusion"]
        },
        n_images=config["table3"]["figure_images"],
        specs=lambda w: {
            "gradcam": heatmap_spec(config["table3"]["models"][0], config["table3"]["gradcam"]),
            **heatmap_specs(config["table3"]["models"][0], config["table3"]["occlusion"]),
        },
    script:
        "../scripts/appendix_b.py"
