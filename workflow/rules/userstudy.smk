# Table 4: the blinded user-study kit (results/user_study/) from cached maps, then the table from
# the answers listed in the config (none: the table says it awaits answers).
from cameval.experiments import userstudy


rule user_study_kit:
    input:
        unpack(
            lambda w: {
                **dataset_files(config["table4"]["dataset"]),
                **{
                    f"{kind}__{model}": shards(
                        config["table4"]["dataset"], model, config["table4"][key], config["table4"]["pool"]
                    )
                    for model in config["table4"]["models"]
                    for kind, key in (("gbp", "guided_backprop"), ("cam", "gradcam"))
                },
                "weights": [model_weights(m) for m in config["table4"]["models"]],
            }
        ),
    output:
        html=report(
            PATHS.user_study("survey.html"),
            caption="../report/survey.rst",
            category=REPORT_CATEGORIES["userstudy"],
            subcategory="survey (what raters see)",
        ),
        key=PATHS.user_study("key.csv"),
    log:
        PATHS.log("user_study/kit"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(10),
    params:
        # only what the kit depends on: listing answer files later must not rebuild it
        cfg=lambda w: {
            k: config["table4"][k] for k in ("models", "images", "pool", "methods", "question", "require_correct")
        },
        better=lambda w: userstudy.better_of(config),
        dataset=lambda w: config["datasets"][config["table4"]["dataset"]],
        num_classes=lambda w: config["models"][config["table4"]["models"][0]].get("num_classes", 1000),
        seed=config["seed"],
        expected=lambda w: {
            "gbp": shard_count(
                config["table4"]["dataset"], config["table4"]["guided_backprop"], config["table4"]["pool"]
            ),
            "cam": shard_count(config["table4"]["dataset"], config["table4"]["gradcam"], config["table4"]["pool"]),
        },
        specs=lambda w: {
            m: {
                "gbp": heatmap_spec(m, config["table4"]["guided_backprop"]),
                "cam": heatmap_spec(m, config["table4"]["gradcam"]),
            }
            for m in config["table4"]["models"]
        },
    script:
        "../scripts/user_study_kit.py"


rule table4:
    input:
        unpack(lambda w: accuracy_inputs(config, config["table4"]["models"])),
        key=PATHS.user_study("key.csv"),
        answers=lambda w: config["table4"]["answers"],
    output:
        csv=PATHS.table("table4"),
        md=PATHS.table("table4", "md"),
    log:
        PATHS.log("tables/table4"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(10),
    params:
        better=lambda w: userstudy.better_of(config),
        reference=lambda w: config["table4"]["reference"],
        n_boot=config["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/table4.py"
