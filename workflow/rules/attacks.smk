# Adversarial attacks -> results/attacks/{attack}/{dataset}/{model}.h5 (images and maps, for the
# figures) and results/metrics/{attack}/{dataset}/{model}.csv (one row per image)


rule fgsm:
    input:
        unpack(lambda w: dataset_files(w.dataset)),
        weights="resources/models/{model}.safetensors",
    output:
        rows="results/metrics/fgsm/{dataset}/{model}.csv",
        maps="results/attacks/fgsm/{dataset}/{model}.h5",
    log:
        "logs/attacks/fgsm/{dataset}/{model}.log",
    benchmark:
        "benchmarks/attacks/fgsm/{dataset}/{model}.tsv"
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
        threshold=config["table1"]["threshold"],
        layer=lambda w: config["models"][w.model].get("layer"),
    script:
        "../scripts/fgsm.py"


# One-pixel attacks (Table 6, Appendix F) -> results/attacks/one_pixel/{dataset}/{model}/shard-{shard}.h5:
# the attacks and the Grad-CAM / IG maps before and after, computed once; everything later reads them.
rule one_pixel:
    input:
        unpack(lambda w: dataset_files(w.dataset)),
        weights="resources/models/{model}.safetensors",
    output:
        "results/attacks/one_pixel/{dataset}/{model}/shard-{shard}.h5",
    log:
        "logs/attacks/one_pixel/{dataset}/{model}/shard-{shard}.log",
    benchmark:
        "benchmarks/attacks/one_pixel/{dataset}/{model}/shard-{shard}.tsv"
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
        cfg=config.get("table6", {}),
        rows=lambda w: attack_rows(w.dataset, int(w.shard)),
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
        weights="resources/models/{model}.safetensors",
        attacks=lambda w: shipped(config["table6"]["study_attacks"][w.model]),
    output:
        "results/metrics/one_pixel_study/{dataset}/{model}.csv",
    log:
        "logs/attacks/one_pixel_study/{dataset}/{model}.log",
    benchmark:
        "benchmarks/attacks/one_pixel_study/{dataset}/{model}.tsv"
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
