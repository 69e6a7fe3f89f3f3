# Models -> resources/models/{model}.safetensors (trained here, or imported from torchvision / a file /
# a whole pickled module read without running its code: weights: pickled-module:<path>)


rule train_model:
    input:
        unpack(lambda w: dataset_files(config["models"][w.model]["dataset"])),
    output:
        weights=PATHS.weights(),
        metrics=PATHS.model_json(),
        curve=PATHS.model_curve(),
    log:
        PATHS.log("models/{model}"),
    benchmark:
        PATHS.benchmark("models/{model}")
    wildcard_constraints:
        model=names("models", lambda m: "train" in m),
    conda:
        "../../envs/cameval.yaml"
    threads: lambda w: config["models"][w.model]["train"]["threads"]
    resources:
        mem_mb=per_attempt(6000),
        runtime=per_attempt(60),
    params:
        spec=lambda w: model_spec(w.model),
        seed=config["seed"],
    script:
        "../scripts/train_model.py"


rule import_model:
    input:
        local_weights,
    output:
        weights=PATHS.weights(),
    log:
        PATHS.log("models/{model}"),
    wildcard_constraints:
        model=names("models", lambda m: "weights" in m),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(4000),
        runtime=per_attempt(30),
    params:
        spec=lambda w: model_spec(w.model),
        source=lambda w: weights_source(w.model),
    script:
        "../scripts/import_model.py"


# Each model's top-1 accuracy on its whole evaluation split (in every table's notes); on the model's own
# dataset the job stops the run where it is below models.<name>.min_accuracy (default: twice chance):
# every job that reads the model's weights waits for it (`accepted`)
rule model_accuracy:
    input:
        unpack(lambda w: dataset_files(w.dataset)),
        weights=PATHS.weights(),
    output:
        PATHS.accuracy(),
    log:
        PATHS.log("metrics/accuracy/{dataset}/{model}"),
    benchmark:
        PATHS.benchmark("metrics/accuracy/{dataset}/{model}")
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(2000),
        runtime=per_attempt(10),
        gpu=lambda w: 1 if config["device"] == "cuda" else 0,
    params:
        split=lambda w: config["datasets"][w.dataset]["eval_split"],
        device=config["device"],
        floor=lambda w: accuracy_floor(w.model) if w.dataset == model_dataset(w.model) else None,
    script:
        "../scripts/model_accuracy.py"
