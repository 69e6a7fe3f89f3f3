# Adversarial attacks -> results/attacks/{attack}/{dataset}/{model}.h5 (images and maps, for the
# figures) and results/metrics/{attack}/{dataset}/{model}.csv (one row per image)


rule fgsm:
    input:
        unpack(lambda w: dataset_files(w.dataset)),
        weights="resources/models/{model}.safetensors",
    output:
        rows="results/metrics/fgsm/{dataset}/{model}.csv",
        maps="results/attacks/fgsm/{dataset}/{model}.h5",
    params:
        split=lambda w: config["datasets"][w.dataset]["eval_split"],
        images=config["fgsm"]["images"],
        eps=config["fgsm"]["eps"],
        threshold=config["table1"]["threshold"],
        layer=lambda w: config["models"][w.model].get("layer"),
    threads: 1
    resources:
        mem_mb=per_attempt(4000),
        runtime=per_attempt(60),
    conda:
        "../../envs/cameval.yaml"
    log:
        "logs/attacks/fgsm/{dataset}/{model}.log",
    benchmark:
        "benchmarks/attacks/fgsm/{dataset}/{model}.tsv"
    script:
        "../scripts/fgsm.py"
