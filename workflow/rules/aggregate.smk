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


rule aggregate_table4:
    input:
        evals=table4_evals(),
        paper="config/paper_tables.yaml",
    output:
        cells=f"{RESULTS}/table4.parquet",
        jobs=f"{RESULTS}/table4_jobs.parquet",
    params:
        config=config_json(),
        benchmarks=" ".join(table4_benchmarks()),
        runs=RUNS,
    log:
        f"{LOGS}/aggregate_table4.log",
    shell:
        "editrepro aggregate --table table4 --config {params.config} --evals {input.evals} "
        "--benchmarks {params.benchmarks} --runs-root {params.runs} --paper-tables {input.paper} "
        "--out {output.cells} --jobs-out {output.jobs} > {log} 2>&1"


rule aggregate_table5:
    input:
        evals=table5_evals(),
        paper="config/paper_tables.yaml",
    output:
        cells=f"{RESULTS}/table5.parquet",
        jobs=f"{RESULTS}/table5_jobs.parquet",
    params:
        config=config_json(),
        benchmarks=" ".join(table5_benchmarks()),
        runs=RUNS,
    log:
        f"{LOGS}/aggregate_table5.log",
    shell:
        "editrepro aggregate --table table5 --config {params.config} --evals {input.evals} "
        "--benchmarks {params.benchmarks} --runs-root {params.runs} --paper-tables {input.paper} "
        "--out {output.cells} --jobs-out {output.jobs} > {log} 2>&1"


rule results:
    input:
        table1="results/table1.parquet",
        parts=[f"{RESULTS}/{t}.parquet" for t in ("table3", "table4", "table5")],
    output:
        f"{RESULTS}/results.parquet",
    params:
        config=config_json(),
    log:
        f"{LOGS}/results.log",
    shell:
        "editrepro aggregate --table all --config {params.config} --table1 {input.table1} "
        "--parts {input.parts} --out {output} > {log} 2>&1"
