# Table 6 and Appendix F: one-pixel attacks -> results/attacks/one_pixel/..., results/metrics/one_pixel/...,
# results/tables/table6.* (and table6_study.* on the study's own attacks), results/figures/appendix_f.png
from cameval.experiments import sensitivity


# One-pixel attacks (Table 6, Appendix F) -> results/attacks/one_pixel/{dataset}/{model}/shard-{shard}.h5:
# the attacks and the Grad-CAM / IG maps before and after, computed once; everything later reads them.
rule one_pixel:
    input:
        unpack(lambda w: dataset_files(w.dataset)),
        unpack(lambda w: accepted(w.model)),
        weights=PATHS.weights(),
    output:
        PATHS.attack("one_pixel", shard="{shard}"),
    log:
        PATHS.log("attacks/one_pixel/{dataset}/{model}/shard-{shard}"),
    benchmark:
        PATHS.benchmark("attacks/one_pixel/{dataset}/{model}/shard-{shard}")
    wildcard_constraints:
        shard=r"\d+",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(lambda w: config["table6"]["mem_mb"]),
        runtime=per_attempt(lambda w: config["table6"]["runtime"]),
        gpu=lambda w: 1 if config["device"] == "cuda" else 0,
    params:
        cfg=config["table6"],
        rows=lambda w: sensitivity.attack_rows(config, int(w.shard), n_eval(w.dataset)),
        split=lambda w: config["datasets"][w.dataset]["eval_split"],
        layer=lambda w: config["models"][w.model].get("layer"),
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/one_pixel.py"


# The study's own one-pixel attacks (table6.study_attacks, paper config) replayed on this pipeline's
# images and model -> results/metrics/one_pixel_study/{dataset}/{model}.csv (one row per attack)
rule one_pixel_study:
    input:
        unpack(lambda w: dataset_files(w.dataset)),
        unpack(lambda w: accepted(w.model)),
        weights=PATHS.weights(),
        attacks=lambda w: shipped(config["table6"]["study_attacks"][w.model]),
    output:
        PATHS.metrics("one_pixel_study"),
    log:
        PATHS.log("attacks/one_pixel_study/{dataset}/{model}"),
    benchmark:
        PATHS.benchmark("attacks/one_pixel_study/{dataset}/{model}")
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(lambda w: config["table6"]["mem_mb"]),
        runtime=per_attempt(30),
        gpu=lambda w: 1 if config["device"] == "cuda" else 0,
    params:
        split=lambda w: config["datasets"][w.dataset]["eval_split"],
        crop=lambda w: config["datasets"][w.dataset].get("crop", 224),
        xy=lambda w: config["table6"]["study_xy"],
        images=lambda w: config["table6"]["images"],
        layer=lambda w: config["models"][w.model].get("layer"),
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/one_pixel_study.py"


# the further CAM-type sets of table6.methods are computed here, on the cached clean and attacked images
rule sensitivity:
    input:
        unpack(lambda w: sensitivity.extra_inputs(config, w.dataset, w.model)),
        shards=lambda w: sensitivity.attack_shards(config, w.dataset, w.model, n_eval(w.dataset)),
        weights=PATHS.weights(),
        manifest=PATHS.manifest(),
    output:
        PATHS.metrics("one_pixel"),
    log:
        PATHS.log("metrics/one_pixel/{dataset}/{model}"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(30),
    params:
        expected=lambda w: sensitivity.n_attacked(config, n_eval(w.dataset)),
        methods={h: config["heatmaps"][h] for h in config["table6"]["methods"]},
        sources=own_sources(config["heatmaps"][h]["method"] for h in config["table6"]["methods"]),
        layer=lambda w: config["models"][w.model].get("layer"),
        device=config["device"],
    script:
        "../scripts/sensitivity.py"


rule table6:
    input:
        unpack(
            lambda w: {
                m: PATHS.metrics("one_pixel", config["table6"]["dataset"], m) for m in config["table6"]["models"]
            }
        ),
        unpack(lambda w: accuracy_inputs(config, config["table6"]["models"])),
    output:
        csv=PATHS.table("table6"),
        md=PATHS.table("table6", "md"),
    log:
        PATHS.log("tables/table6"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    params:
        cfg=config["table6"],
        extra=sensitivity.extra_labels(config),
        n_boot=config["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/table6.py"


rule table6_study:
    input:
        unpack(
            lambda w: {
                m: PATHS.metrics("one_pixel_study", config["table6"]["dataset"], m)
                for m in config["table6"]["study_attacks"]
            }
        ),
    output:
        csv=PATHS.table("table6_study"),
        md=PATHS.table("table6_study", "md"),
    log:
        PATHS.log("tables/table6_study"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    params:
        cfg=config["table6"],
    script:
        "../scripts/table6_study.py"


rule appendix_f:
    input:
        unpack(
            lambda w: {
                m: sensitivity.attack_shards(
                    config, config["table6"]["dataset"], m, n_eval(config["table6"]["dataset"])
                )
                for m in config["table6"]["models"]
            }
        ),
        weights=[model_weights(m) for m in config["table6"]["models"]],
        manifest=PATHS.manifest(config["table6"]["dataset"]),
    output:
        report(
            PATHS.figure("appendix_f"),
            caption="../report/appendix_f.rst",
            category=REPORT_CATEGORIES["sensitivity"],
            subcategory="figures",
        ),
    log:
        PATHS.log("figures/appendix_f"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(10),
    params:
        n_images=config["table6"]["figure_images"],
        dataset=lambda w: config["datasets"][config["table6"]["dataset"]],
        expected=lambda w: sensitivity.n_attacked(config, n_eval(config["table6"]["dataset"])),
        models=config["table6"]["models"],
    script:
        "../scripts/appendix_f.py"
