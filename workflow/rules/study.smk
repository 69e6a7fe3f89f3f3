# The study's own published raw results (resources/study/), reanalysed: its Tables 3, 4 and 5
# recomputed from them with intervals and paired tests (results/tables/study/); the claims read
# them for their verdict "on the study's own results".
from cameval.experiments import study


# The study's own published raw results (resources/study/), reanalysed: its Tables 3, 4 and 5
# recomputed from them with intervals and paired tests (results/tables/study/); the claims read
# them for their verdict "on the study's own results".
rule study_tables:
    input:
        **study.study_files(shipped(config["study"]["root"])),
    output:
        **{f"{t}_{ext}": PATHS.table(f"study/{t}", ext) for t in STUDY_TABLES for ext in ("csv", "md")},
        figure=report(
            PATHS.figure("study"),
            caption="../report/study.rst",
            category=REPORT_CATEGORIES["study"],
            subcategory="figure",
        ),
    log:
        PATHS.log("tables/study"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(5),
    params:
        occlusion=lambda w: f"{shipped(config['study']['root'])}/occlusion_45x45",
        chest_xray=lambda w: f"{shipped(config['study']['root'])}/chest_xray",
        n_boot=config["bootstrap"],
        seed=config["seed"],
    script:
        "../scripts/study_tables.py"


rule study_table_html:
    input:
        md=PATHS.table("study/{table}", "md"),
        csv=report(
            PATHS.table("study/{table}"),
            caption="../report/table_csv.rst",
            category=REPORT_CATEGORIES["study"],
            subcategory="tables (CSV, every column)",
        ),
    output:
        html=report(
            PATHS.page("study/{table}"),
            caption="../report/table.rst",
            category=REPORT_CATEGORIES["study"],
            subcategory="tables",
        ),
    log:
        PATHS.log("report/study/{table}"),
    wildcard_constraints:
        table=r"table\d+",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(500),
        runtime=per_attempt(5),
    script:
        "../scripts/table_html.py"
