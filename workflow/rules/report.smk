# Reports: each table in its paper's layout, paper and reproduced values side by side.


rule report_table:
    input:
        unpack(report_inputs),
    output:
        report("reports/{table}.md", caption="../report/table.rst", category="Tables", labels={"table": "{table}"}),
    params:
        config=config_json(stats=True),
        extra=report_extra_args,
    log:
        f"{LOGS}/report/{{table}}.log",
    conda:
        ENV
    shell:
        "editrepro report --table {wildcards.table} --config {params.config} --results {input.cells} "
        "--jobs {input.jobs} {params.extra} --out {output} > {log} 2>&1"


rule report:
    input:
        results=f"{RESULTS}/results.parquet",
        table1="reports/table1.md",
        figures=[f"reports/figures/{name}" for name in FIGURES_T3] + ([SATURATION_FIGURE] if saturation_models() else []),
        jobs=[LAYOUT.table_jobs(t) for t in PLANNED_TABLES],
        pages=ATTENTION_REPORTS,
        recipe_references="config/recipe_references.yaml",
    output:
        report("reports/report.md", caption="../report/report.rst", category="Report"),
    params:
        config=config_json(stats=True, recipes=True),
    log:
        f"{LOGS}/report.log",
    conda:
        ENV
    shell:
        "editrepro report --table all --config {params.config} --results {input.results} "
        "--table1-report {input.table1} --figures {input.figures} --jobs {input.jobs} --pages {input.pages} "
        "--out {output} > {log} 2>&1"
