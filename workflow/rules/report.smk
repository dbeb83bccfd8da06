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
