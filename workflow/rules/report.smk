# results/claims.md (the study's conclusions checked on the tables), the top of the report's landing
# page (workflow/report/workflow.rst includes results/report/landing.html) and the HTML renderings of
# the tables that `snakemake --report results/report.html` shows, grouped by experiment.


rule claims:
    input:
        unpack(lambda w: {t: PATHS.table(t) for t in built_tables(config)}),
        unpack(lambda w: {f"study__{t}": PATHS.table(f"study/{t}") for t in STUDY_TABLES} if "study" in config else {}),
    output:
        md=PATHS.claims("md"),
        csv=PATHS.claims("csv"),
        html=report(
            PATHS.page("claims"),
            caption="../report/claims.rst",
            category=REPORT_CATEGORIES["claims"],
            subcategory="claims",
        ),
        landing=PATHS.page("landing"),
    log:
        PATHS.log("claims"),
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(1000),
        runtime=per_attempt(5),
    params:
        models=config["models"],
        configfiles=[os.path.relpath(f) for f in workflow.configfiles],
        setup={t: table_setup(t) for t in built_tables(config) if t in config},
        alpha=config["claims"]["alpha"],
        tolerance=config["claims"]["tolerance"],
        fgsm_min_rho=config["claims"]["fgsm_min_rho"],
    script:
        "../scripts/claims.py"


rule table_html:
    input:
        md=PATHS.table("{table}", "md"),
        csv=report(
            PATHS.table("{table}"),
            caption="../report/table_csv.rst",
            category=lambda w: REPORT_CATEGORY_OF.get(category_of_table(w.table), w.table),
            subcategory="tables (CSV, every column)",
        ),
    output:
        html=report(
            PATHS.page("{table}"),
            caption="../report/table.rst",
            category=lambda w: REPORT_CATEGORY_OF.get(category_of_table(w.table), w.table),
            subcategory="tables",
        ),
    log:
        PATHS.log("report/{table}"),
    wildcard_constraints:
        table=r"table\d+|table6_study|fgsm|sanity|deletion",
    conda:
        "../../envs/cameval.yaml"
    threads: 1
    resources:
        mem_mb=per_attempt(500),
        runtime=per_attempt(5),
    script:
        "../scripts/table_html.py"


# `make report`: the report of what exists now (a partial run, a run with failed jobs): the targets of
# `all` that are there, and what they were built from
rule existing:
    input:
        [t for t in all_targets() if os.path.exists(t)],
