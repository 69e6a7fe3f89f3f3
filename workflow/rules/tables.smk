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
    params:
        reference=config["table1"]["reference"],
        n_boot=config["bootstrap"],
        seed=config["seed"],
        rule=config["table1"]["rule"],
        threshold=config["table1"]["threshold"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/cameval.yaml"
    log:
        "logs/tables/table1.log",
    script:
        "../scripts/table1.py"
