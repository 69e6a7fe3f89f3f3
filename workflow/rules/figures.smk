# Figures -> results/figures/*.png


def figure1_inputs(wildcards):
    f = config["figure1"]
    return {
        f"{model}__{heatmap}": f"results/heatmaps/{f['dataset']}/{model}/{heatmap}/shard-0.h5"
        for model in f["models"]
        for heatmap in ("gradcam", "gradcampp", "guided_backprop")
    }


rule figure1:
    input:
        unpack(figure1_inputs),
        **dataset_files(config["figure1"]["dataset"]),
    output:
        report(
            "results/figures/figure1.png",
            caption="../report/figure1.rst",
            category=REPORT_CATEGORIES["figure1"],
            subcategory="figures",
        ),
    log:
        "logs/figures/figure1.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(10),
    params:
        n_images=config["figure1"]["images"],
    script:
        "../scripts/figure1.py"


def appendix_b_inputs(wildcards):
    t = config["table3"]
    model = t["models"][0]
    files = {"gradcam": shards(t["dataset"], model, t["gradcam"], 1)}
    for occ in t["occlusion"]:
        files[occ] = shards(t["dataset"], model, occ, 1)
    return files


rule appendix_b:
    input:
        unpack(appendix_b_inputs),
        **dataset_files(config["table3"]["dataset"]),
    output:
        report(
            "results/figures/appendix_b.png",
            caption="../report/appendix_b.rst",
            category=REPORT_CATEGORIES["table3"],
            subcategory="figures",
        ),
    log:
        "logs/figures/appendix_b.log",
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
    script:
        "../scripts/appendix_b.py"


rule appendix_c:
    input:
        unpack(
            lambda w: {m: f"results/attacks/fgsm/{config['fgsm']['dataset']}/{m}.h5" for m in config["fgsm"]["models"]}
        ),
    output:
        report(
            "results/figures/appendix_c.png",
            caption="../report/appendix_c.rst",
            category=REPORT_CATEGORIES["fgsm"],
            subcategory="figures",
        ),
    log:
        "logs/figures/appendix_c.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(10),
    params:
        n_images=config["fgsm"]["figure_images"],
    script:
        "../scripts/appendix_c.py"


rule appendix_f:
    input:
        unpack(lambda w: {m: attack_shards(config["table6"]["dataset"], m) for m in config["table6"]["models"]}),
    output:
        report("results/figures/appendix_f.png", caption="../report/appendix_f.rst", category="Figures"),
    log:
        "logs/figures/appendix_f.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(10),
    params:
        n_images=config.get("table6", {}).get("figure_images"),
        dataset=lambda w: config["datasets"][config["table6"]["dataset"]],
        expected=lambda w: n_attacked(config["table6"]["dataset"]),
    script:
        "../scripts/appendix_f.py"


rule appendix_g:
    input:
        unpack(lambda w: {m: f"results/maps/table7/{model_dataset(m)}/{m}.h5" for m in config["table7"]["models"]}),
    output:
        report("results/figures/appendix_g.png", caption="../report/appendix_g.rst", category="Figures"),
    log:
        "logs/figures/appendix_g.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(10),
    params:
        n_images=config.get("table7", {}).get("figure_images"),
        datasets=lambda w: {m: config["datasets"][model_dataset(m)] for m in config["table7"]["models"]},
    script:
        "../scripts/appendix_g.py"
