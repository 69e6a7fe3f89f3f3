# Datasets -> resources/data/{dataset}/images.h5 + manifest.csv (shared by every run; cameval.paths)


rule dataset:
    input:
        raw_inputs,
    output:
        images=PATHS.images(),
        manifest=PATHS.manifest(),
    log:
        PATHS.log("data/{dataset}"),
    benchmark:
        PATHS.benchmark("data/{dataset}")
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(4000),
        runtime=per_attempt(build_minutes),
    params:
        spec=lambda w: config["datasets"][w.dataset],
        seed=config["seed"],
    script:
        "../scripts/dataset.py"
