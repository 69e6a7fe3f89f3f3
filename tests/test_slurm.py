"""The cluster profile: what it asks SLURM for (dry-runs), and the tiny config run end to end on a
real SLURM, its tables byte-identical to a local run's.

The end-to-end test (Table 5's jobs of the tiny config, compared with the session's local run of
the whole tiny config, tests/conftest.py) needs a SLURM that answers (`.ci/run` starts a one-node one with
`.ci/slurm/start.sh`); elsewhere it is skipped with the reason. Both runs use the README's
command lines from the root of a copy of the project, so that Snakemake finds `profiles/default`
exactly as it does for a user.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import background
from background import long_run
from conftest import merge_config, snakemake_at

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.workflow
PROJECT = ("Snakefile", "workflow", "config", "profiles", "envs", "tests/configs", "resources/study")


def project_copy(dest: Path) -> Path:
    """The files a user's clone runs from (no results, no .snakemake) under `dest`."""
    for name in PROJECT:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def run(args, cwd: Path, timeout=1800, check=True):
    """`snakemake ARGS` from `cwd`, as the README writes it (this interpreter's snakemake)."""
    proc = snakemake_at(cwd, *args, timeout=timeout, env={"OMP_NUM_THREADS": "1"})
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed in {cwd}:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def job_resources(output: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, {resource: value}) for every job a dry-run lists."""
    jobs = []
    for block in re.split(r"\n(?=rule \w+:|localrule \w+:)", output):
        head = re.match(r"(?:local)?rule (\w+):", block)
        res = re.search(r"^\s+resources: (.*)$", block, re.M)
        if head and res:
            jobs.append((head[1], dict(kv.split("=", 1) for kv in res[1].split(", "))))
    return jobs


def set_partition(profile: Path, partition: str) -> None:
    """What the profile's comment tells a user to do: uncomment slurm_partition and set it."""
    text = profile.read_text()
    new, n = re.subn(r"^(\s*)# slurm_partition: .*$", rf'\1slurm_partition: "{partition}"', text, count=1, flags=re.M)
    assert n == 1, f"{profile}: no commented 'slurm_partition' line to set"
    profile.write_text(new)


@pytest.fixture
def paper_copy(tmp_path, paper_fixtures):
    """A project copy whose config/paper.yaml points at the tiny ILSVRC fixture (4 images), the tiny
    ChestX-ray14 fixture and the CheXNet-style checkpoints A and B (tests/conftest.py)."""
    dest = project_copy(tmp_path / "clone")
    path = dest / "config/paper.yaml"
    cfg = merge_config(yaml.safe_load(path.read_text()), paper_fixtures)
    path.write_text(yaml.safe_dump(cfg))
    return dest


# Rules that run a model on config["device"]: they, and only they, ask for a GPU with device: cuda
GPU_RULES = {
    "heatmaps",
    "one_pixel",
    "one_pixel_study",
    "class_maps",
    "fidelity",
    "model_accuracy",
    "sanity_maps",
    "deletion_rows",
}


def test_cluster_jobs_get_their_own_memory_and_a_gpu_only_with_device_cuda(paper_copy):
    """The local workflow profile caps nothing on the cluster, the partition set in the cluster
    profile reaches every job, and `gpu` follows the config's device alone."""
    set_partition(paper_copy / "profiles/slurm/config.yaml", "compute")
    out = run(["-n", "--profile", "profiles/slurm", "all", "--configfile", "config/paper.yaml"], paper_copy).stdout
    jobs = job_resources(out)
    heat = [r for rule, r in jobs if rule == "heatmaps"]
    assert heat and all(r["slurm_partition"] == "compute" for _, r in jobs)
    # config/paper.yaml: occlusion shards declare 24000 MB / 240 min, Grad-CAM shards 16000 / 60,
    # Table 5's CAM shards 16000 / 30 and its IG / Gradient SHAP shards 24000 / 120
    assert sorted({(r["mem_mb"], r["runtime"]) for r in heat}) == [
        ("16000", "30"),
        ("16000", "60"),
        ("24000", "120"),
        ("24000", "240"),
    ]
    assert {rule for rule, _ in jobs} >= GPU_RULES
    assert {r["gpu"] for rule, r in jobs if rule in GPU_RULES} == {"1"}  # paper.yaml says device: cuda
    assert all(r.get("gpu", "0") == "0" for rule, r in jobs if rule not in GPU_RULES)
    cfg = yaml.safe_load((paper_copy / "config/paper.yaml").read_text())
    cfg["device"] = "cpu"
    (paper_copy / "config/paper.yaml").write_text(yaml.safe_dump(cfg))
    out = run(["-n", "--profile", "profiles/slurm", "all", "--configfile", "config/paper.yaml"], paper_copy).stdout
    assert {r.get("gpu", "0") for _, r in job_resources(out)} == {"0"}


def test_profiles_set_no_device_and_the_workflow_profile_no_resources():
    """profiles/default is loaded on cluster runs too: it must not hold resources or cluster keys;
    neither profile may set the device (the config's key) or a gres."""
    local = yaml.safe_load((ROOT / "profiles/default/config.yaml").read_text())
    slurm = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    assert not {
        "resources",
        "default-resources",
        "set-resources",
        "latency-wait",
        "retries",
        "jobs",
        "executor",
        "config",
        "groups",
    } & set(local)
    assert "config" not in slurm and "gres" not in str(slurm)
    assert slurm["executor"] == "slurm" and slurm["retries"] >= 1


def test_a_retry_asks_for_more_memory_and_time(tmp_path):
    """Every rule's mem_mb and runtime are base × attempt: evaluate them at attempts 1 and 2."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, DeploymentSettings, OutputSettings, ResourceSettings

    dest = project_copy(tmp_path / "clone")
    cwd = os.getcwd()
    os.chdir(dest)
    try:
        with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
            wf = api.workflow(
                resource_settings=ResourceSettings(cores=1),
                config_settings=ConfigSettings(configfiles=[dest / "tests/configs/tiny.yaml"]),
                deployment_settings=DeploymentSettings(),
                snakefile=dest / "Snakefile",
                workdir=dest,
            )
            dag_api = wf.dag()
            dag_api.workflow_api._workflow._prepare_dag(forceall=False, ignore_incomplete=False, lock_warn_only=False)
            dag_api.workflow_api._workflow._build_dag()
            jobs = list(dag_api.workflow_api._workflow.dag.jobs)
            assert jobs
            for job in jobs:
                if job.rule.name == "all":
                    continue
                first = (job.resources["mem_mb"], job.resources["runtime"])
                job.attempt = 2
                assert (job.resources["mem_mb"], job.resources["runtime"]) == (2 * first[0], 2 * first[1]), job
    finally:
        os.chdir(cwd)


def slurm_partition() -> str | None:
    """The default partition of a SLURM whose node takes jobs, or None."""
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return None
    try:
        proc = subprocess.run(["sinfo", "-h", "-o", "%P %t"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return None
    rows = [line.split() for line in proc.stdout.splitlines() if line.strip()] if proc.returncode == 0 else []
    up = [p for p, state in rows if state in ("idle", "mix")]
    default = [p.rstrip("*") for p in up if p.endswith("*")]
    return (default or [p.rstrip("*") for p in up] or [None])[0]


#: what goes through SLURM: Table 5, whose 8 jobs hold every kind the profile treats apart: jobs that
#: compute (dataset, train_model x 2) and may ask for a GPU (heatmaps__digits_multi__A and __B: Table
#: 5's six sets of models A and B, heatmap_bundles), the metric jobs (xray_localization x 2, in
#: `group_metrics` SLURM jobs) and a table (`tables` group). The tiny config's `all` (88 jobs) took
#: ~12 minutes on a one-node SLURM.
#: A target added here changes the job and submission counts asserted below.
CLUSTER_TARGETS = ["results/tables/table5.csv"]


@long_run
def slurm_table5(folder: Path) -> dict | None:
    """Table 5 of the tiny config through profiles/slurm, from a fresh project copy: its plan, the
    run, and the plan after it; None where no SLURM answers. Started with the session, it also
    starts the tiny run it is compared with."""
    partition = slurm_partition()
    if partition is None:
        return None
    background.start("tiny")
    config = [*CLUSTER_TARGETS, "--configfile", "tests/configs/tiny.yaml"]
    cluster = project_copy(folder / "cluster")
    set_partition(cluster / "profiles/slurm/config.yaml", partition)
    plan = run(["-n", "--profile", "profiles/slurm", *config], cluster).stdout
    # the README's command; the first status check 2 s after a submission, not the profile's 10 (the
    # plugin adds 10 s a round while nothing finishes): seconds-long jobs are seen finished sooner
    proc = run(["--profile", "profiles/slurm", *config, "--slurm-init-seconds-before-status-checks", "2"], cluster)
    again = run(["-n", "--profile", "profiles/slurm", *config], cluster).stdout
    return {"cluster": cluster, "plan": plan, "log": proc.stdout + proc.stderr, "again": again}


@pytest.mark.slurm
@pytest.mark.long_run("slurm_table5")
def test_tiny_config_on_slurm_gives_the_local_tables_byte_for_byte(request):
    """Table 5 of the tiny config through profiles/slurm, its tables byte-identical to those of the
    session's local run of the same config (tests/conftest.py: tiny_run)."""
    done = background.result("slurm_table5")
    if done is None:
        message = (
            "no SLURM answers here (sinfo/sbatch missing or no idle node); "
            "`.ci/slurm/start.sh` starts a one-node one (root, apt), as .ci/run does"
        )
        if os.environ.get("CAMEVAL_REQUIRE_SLURM"):
            pytest.fail(message + ", and CAMEVAL_REQUIRE_SLURM is set")
        pytest.skip(message)
    tiny_run = request.getfixturevalue("tiny_run")  # only where SLURM answers: no tiny run just to skip
    cluster, plan, log = done["cluster"], done["plan"], done["log"]
    planned = {f for line in re.findall(r"^\s+output: (.*)$", plan, re.M) for f in line.split(", ")}
    assert "workflow specific profile profiles/default" in log  # the leak the profiles guard against
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", log)
    assert submitted, "no job was submitted to SLURM"
    # one SLURM job per planned job, the two xray_localization jobs sharing a group job when they are
    # ready together (each in its own group job otherwise): 7 or 8 submissions of the 8 jobs
    assert len(re.findall(r"^\s+output: ", plan, re.M)) == 8, plan
    assert len(set(submitted)) in (7, 8), f"{len(set(submitted))} SLURM jobs:\n{log[-4000:]}"
    assert "group_metrics" in log  # the metric jobs went out grouped (profiles/slurm: groups)
    tables = sorted(p.relative_to(cluster) for p in (cluster / "results/tables").rglob("*") if p.is_file())
    assert [str(p) for p in tables] == sorted(f for f in planned if f.startswith("results/tables/"))
    assert {p.name for p in tables} >= {"table5.csv", "table5.md"}
    for rel in tables:
        assert (cluster / rel).read_bytes() == (tiny_run / rel).read_bytes(), f"{rel} differs from the local run's"
    assert "Nothing to be done" in done["again"]


def test_every_rule_is_grouped_on_the_cluster_unless_it_computes():
    """profiles/slurm groups the light jobs (metrics from shards, tables, figures) and leaves out
    the ones that compute; no rule that may ask for a GPU sits in a group."""
    rules = set()
    for smk in (ROOT / "workflow/rules").glob("*.smk"):
        rules |= set(re.findall(r"^\s*(?:rule|checkpoint) (\w+):", smk.read_text(), re.M))  # an `if`'s too
    slurm = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    grouped = dict(g.split("=") for g in slurm["groups"])
    compute = {
        "dataset",
        "import_model",
        "train_model",
        "heatmaps",
        "fgsm",
        "one_pixel",
        "one_pixel_study",
        "class_maps",
        "fidelity",
        "model_accuracy",
        "sanity_maps",
        "deletion_rows",
    }
    assert GPU_RULES <= compute
    assert set(grouped) <= rules, f"groups name rules that do not exist: {set(grouped) - rules}"
    assert not compute & set(grouped)
    targets_only = {"all", "existing"}  # rules without a job of their own (existing: the report of a partial run)
    assert rules - targets_only == set(grouped) | compute, (
        f"rules in no group and not known as compute: {rules - set(grouped) - compute - targets_only}"
    )
    assert set(grouped.values()) == set(g.split("=")[0] for g in slurm["group-components"])
