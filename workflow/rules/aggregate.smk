# Aggregation: a table's evaluations and its jobs' benchmark files -> tidy parquet.


rule aggregate_table3:
    input:
        evals=table3_evals(),
        paper="config/paper_tables.yaml",
    output:
        cells=f"{RESULTS}/table3.parquet",
        jobs=f"{RESULTS}/table3_jobs.parquet",
    params:
        config=config_json(),
        benchmarks=" ".join(table3_benchmarks()),  # read if present: deleting logs/ must not re-run jobs
        runs=RUNS,
    log:
        f"{LOGS}/aggregate_table3.log",
    shell:
        "editrepro aggregate --table table3 --config {params.config} --evals {input.evals} "
        "--benchmarks {params.benchmarks} --runs-root {params.runs} --paper-tables {input.paper} "
        "--out {output.cells} --jobs-out {output.jobs} > {log} 2>&1"
