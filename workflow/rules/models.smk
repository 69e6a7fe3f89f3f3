# Models -> resources/models/{model}.safetensors (trained here, or imported from torchvision / a file /
# a whole pickled module read without running its code: weights: pickled-module:<path>)


rule train_model:
    input:
        unpack(lambda w: dataset_files(config["models"][w.model]["dataset"])),
    output:
        weights="resources/models/{model}.safetensors",
        metrics="resources/models/{model}.json",
        curve="resources/models/{model}.curve.csv",
    log:
        "logs/models/{model}.log",
    benchmark:
        "benchmarks/models/{model}.tsv"
    wildcard_constraints:
        model=names("models", lambda m: "train" in m),
    conda:
        "../../envs/cameval.yaml"
    threads: lambda w: config["models"][w.model]["train"]["threads"]
    resources:
        mem_mb=per_attempt(6000),
        runtime=per_attempt(60),
    params:
        spec=lambda w: config["models"][w.model],
        seed=config["seed"],
    script:
        "../scripts/train_model.py"


def weights_source(model):
    """A model's `weights` with a local file's path resolved by `shipped` (torchvision specs as given)."""
    source = config["models"][model]["weights"]
    if source.startswith("torchvision:"):
        return source
    prefix = "pickled-module:" if source.startswith("pickled-module:") else ""
    return prefix + shipped(source.removeprefix(prefix))


def local_weights(wildcards):
    """The weights file a model is imported from (none for torchvision's), without its `pickled-module:` prefix."""
    source = weights_source(wildcards.model)
    return [] if source.startswith("torchvision:") else [source.removeprefix("pickled-module:")]


rule import_model:
    input:
        local_weights,
    output:
        weights="resources/models/{model}.safetensors",
    log:
        "logs/models/{model}.log",
    wildcard_constraints:
        model=names("models", lambda m: "weights" in m),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(4000),
        runtime=per_attempt(30),
    params:
        spec=lambda w: config["models"][w.model],
        source=lambda w: weights_source(w.model),
    script:
        "../scripts/import_model.py"
