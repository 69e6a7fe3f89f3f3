# Datasets -> resources/data/{dataset}/images.h5 + manifest.csv


rule dataset:
    input:
        raw_inputs,
    output:
        images="resources/data/{dataset}/images.h5",
        manifest="resources/data/{dataset}/manifest.csv",
    log:
        "logs/data/{dataset}.log",
    benchmark:
        "benchmarks/data/{dataset}.tsv"
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
