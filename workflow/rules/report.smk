# Reports: each table in the paper's layout, paper and reproduced values side by side.


rule report_table3:
    input:
        cells=f"{RESULTS}/table3.parquet",
        jobs=f"{RESULTS}/table3_jobs.parquet",
        table1="results/table1.parquet",
    output:
        report(
            "reports/table3.md",
            caption="../report/table3.rst",
            category="Tables",
            labels={"table": "3"},
        ),
    params:
        config=config_json(),
    log:
        f"{LOGS}/report_table3.log",
    shell:
        "editrepro report --table table3 --config {params.config} --results {input.cells} "
        "--jobs {input.jobs} --table1 {input.table1} --out {output} > {log} 2>&1"


rule report_table4:
    input:
        cells=f"{RESULTS}/table4.parquet",
        jobs=f"{RESULTS}/table4_jobs.parquet",
    output:
        report("reports/table4.md", caption="../report/table4.rst", category="Tables", labels={"table": "4"}),
    params:
        config=config_json(),
    log:
        f"{LOGS}/report_table4.log",
    shell:
        "editrepro report --table table4 --config {params.config} --results {input.cells} "
        "--jobs {input.jobs} --out {output} > {log} 2>&1"


rule report_table5:
    input:
        cells=f"{RESULTS}/table5.parquet",
        jobs=f"{RESULTS}/table5_jobs.parquet",
    output:
        report("reports/table5.md", caption="../report/table5.rst", category="Tables", labels={"table": "5"}),
    params:
        config=config_json(),
    log:
        f"{LOGS}/report_table5.log",
    shell:
        "editrepro report --table table5 --config {params.config} --results {input.cells} "
        "--jobs {input.jobs} --out {output} > {log} 2>&1"


rule report:
    input:
        results=f"{RESULTS}/results.parquet",
        table1="reports/table1.md",
        figures=[f"reports/figures/{name}" for name in FIGURES_T3],
        jobs=[f"{RESULTS}/{t}_jobs.parquet" for t in ("table3", "table4", "table5")],
    output:
        report("reports/report.md", caption="../report/report.rst", category="Report"),
    params:
        config=config_json(),
    log:
        f"{LOGS}/report.log",
    shell:
        "editrepro report --table all --config {params.config} --results {input.results} "
        "--table1-report {input.table1} --figures {input.figures} --jobs {input.jobs} --out {output} > {log} 2>&1"
