# Table 4: the blinded user-study kit (results/user_study/) from cached maps, then the table from
# the answers listed in the config (none: the table says it awaits answers).


def table4_cfg():
    return config["table4"]


def user_study_inputs(wildcards):
    t = table4_cfg()
    files = dataset_files(t["dataset"])
    for model in t["models"]:
        files[f"gbp__{model}"] = shards(t["dataset"], model, t["guided_backprop"], t["pool"])
        files[f"cam__{model}"] = shards(t["dataset"], model, t["gradcam"], t["pool"])
    return files


rule user_study_kit:
    input:
        unpack(user_study_inputs),
    output:
        html=report(
            "results/user_study/survey.html",
            caption="../report/survey.rst",
            category=REPORT_CATEGORIES["table4"],
            subcategory="survey (what raters see)",
        ),
        key="results/user_study/key.csv",
    log:
        "logs/user_study/kit.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(10),
    params:
        # only what the kit depends on: listing answer files later must not rebuild it
        cfg=lambda w: {
            k: table4_cfg()[k] for k in ("models", "images", "pool", "methods", "question", "require_correct")
        },
        better=lambda w: table4_cfg().get("better") or table4_cfg()["models"][0],
        dataset=lambda w: config["datasets"][table4_cfg()["dataset"]],
        num_classes=lambda w: config["models"][table4_cfg()["models"][0]].get("num_classes", 1000),
        seed=config["seed"],
        expected=lambda w: {
            "gbp": shard_count(table4_cfg()["dataset"], table4_cfg()["guided_backprop"], table4_cfg()["pool"]),
            "cam": shard_count(table4_cfg()["dataset"], table4_cfg()["gradcam"], table4_cfg()["pool"]),
        },
    script:
        "../scripts/user_study_kit.py"


rule table4:
    input:
        key="results/user_study/key.csv",
        answers=lambda w: table4_cfg()["answers"],
    output:
        csv="results/tables/table4.csv",
        md="results/tables/table4.md",
    log:
        "logs/tables/table4.log",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    params:
        better=lambda w: table4_cfg().get("better") or table4_cfg()["models"][0],
        reference=lambda w: table4_cfg()["reference"],
        n_boot=config["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/table4.py"
