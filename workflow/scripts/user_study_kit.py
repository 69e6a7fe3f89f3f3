"""Table 4's kit: blinded stimuli, the key and the survey page, from cached maps."""

from cameval.experiments.userstudy.compute import KitShards, KitSpec, build_kit
from cameval.experiments.userstudy.kit import class_names
from cameval.logs import setup_logging
from cameval.store import Expect

setup_logging(snakemake.log[0])
p = snakemake.params
inp = snakemake.input
weights = dict(zip(p.cfg["models"], inp.weights, strict=True))
expect = {m: {k: Expect(weights[m], spec, inp.manifest) for k, spec in p.specs[m].items()} for m in p.cfg["models"]}
spec = KitSpec(
    better=p.better,
    n_images=p.cfg["images"],
    pool=p.cfg["pool"],
    methods=p.cfg["methods"],
    seed=p.seed,
    question=p.cfg["question"],
    require_correct=p.cfg["require_correct"],
)
shards = KitShards(
    gbp={m: list(inp[f"gbp__{m}"]) for m in p.cfg["models"]},
    gradcam={m: list(inp[f"cam__{m}"]) for m in p.cfg["models"]},
    expected=p.expected,
    expect=expect,
)
build_kit(
    spec,
    shards,
    images=inp.images,
    manifest=inp.manifest,
    names=class_names(p.dataset, p.num_classes),
    key_path=snakemake.output.key,
    html_path=snakemake.output.html,
)
