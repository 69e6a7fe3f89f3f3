# Tables -> results/tables/table{N}.csv + .md


def table1_inputs(wildcards):
    t = config["table1"]
    return {
        f"{model}__{method}": f"results/metrics/localization/{t['dataset']}/{model}/{method}.csv"
        for model in t["models"]
        for method in t["methods"]
    }


rule table1:
    input:
        unpack(table1_inputs),
    output:
        csv="results/tables/table1.csv",
        md="results/tables/table1.md",
    log:
        "logs/tables/table1.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    params:
        reference=config["table1"]["reference"],
        n_boot=config["bootstrap"],
        seed=config["seed"],
        rule=config["table1"]["rule"],
        threshold=config["table1"]["threshold"],
    script:
        "../scripts/table1.py"


rule table2:
    input:
        unpack(
            lambda w: {
                m: f"results/metrics/pointing/{config['table2']['dataset']}/{m}.csv"
                for m in config["table2"]["models"]
            }
        ),
    output:
        csv="results/tables/table2.csv",
        md="results/tables/table2.md",
    log:
        "logs/tables/table2.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    params:
        cfg=config["table2"],
        n_boot=config["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/table2.py"


def table3_inputs(wildcards):
    t = config["table3"]
    return {
        f"{model}__{occ}": f"results/metrics/rankcorr/{t['dataset']}/{model}/{occ}.csv"
        for model in t["models"]
        for occ in t["occlusion"]
    }


rule table3:
    input:
        unpack(table3_inputs),
    output:
        csv="results/tables/table3.csv",
        md="results/tables/table3.md",
    log:
        "logs/tables/table3.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    params:
        cfg=config["table3"],
        patches={k: config["heatmaps"][k]["params"]["patch"] for k in config["table3"]["occlusion"]},
        n_boot=config["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/table3.py"


rule fgsm_table:
    input:
        unpack(
            lambda w: {
                m: f"results/metrics/fgsm/{config['fgsm']['dataset']}/{m}.csv" for m in config["fgsm"]["models"]
            }
        ),
    output:
        csv="results/tables/fgsm.csv",
        md="results/tables/fgsm.md",
    log:
        "logs/tables/fgsm.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    params:
        eps=config["fgsm"]["eps"],
        n_boot=config["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/fgsm_table.py"


rule table6:
    input:
        unpack(
            lambda w: {
                m: f"results/metrics/one_pixel/{config['table6']['dataset']}/{m}.csv"
                for m in config["table6"]["models"]
            }
        ),
    output:
        csv="results/tables/table6.csv",
        md="results/tables/table6.md",
    log:
        "logs/tables/table6.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    params:
        cfg=config.get("table6", {}),
        n_boot=config["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/table6.py"


def table7_inputs(wildcards):
    """Per model: the fidelity rows, and the accuracy on the whole evaluation split (`accuracy__<model>`)."""
    files = {}
    for m in config["table7"]["models"]:
        files[m] = f"results/metrics/fidelity/{model_dataset(m)}/{m}.csv"
        files[f"accuracy__{m}"] = f"results/metrics/accuracy/{model_dataset(m)}/{m}.json"
    return files


rule table6_study:
    input:
        unpack(
            lambda w: {
                m: f"results/metrics/one_pixel_study/{config['table6']['dataset']}/{m}.csv"
                for m in config["table6"]["study_attacks"]
            }
        ),
    output:
        csv="results/tables/table6_study.csv",
        md="results/tables/table6_study.md",
    log:
        "logs/tables/table6_study.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    params:
        cfg=config.get("table6", {}),
    script:
        "../scripts/table6_study.py"


rule table7:
    input:
        unpack(table7_inputs),
    output:
        csv="results/tables/table7.csv",
        md="results/tables/table7.md",
    log:
        "logs/tables/table7.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    params:
        cfg=config.get("table7", {}),
        datasets=lambda w: {m: model_dataset(m) for m in config["table7"]["models"]},
        kinds=lambda w: {m: config["datasets"][model_dataset(m)]["kind"] for m in config["table7"]["models"]},
        images=lambda w: {m: table7_images(m) for m in config["table7"]["models"]},
        n_boot=config["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/table7.py"
