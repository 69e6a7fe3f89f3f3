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
        report("results/figures/figure1.png", caption="../report/figure1.rst", category="Figures"),
    params:
        n_images=config["figure1"]["images"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/cameval.yaml"
    log:
        "logs/figures/figure1.log",
    script:
        "../scripts/figure1.py"
