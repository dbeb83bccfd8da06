# Aggregation: a table's evaluations and its jobs' benchmark files -> tidy parquet.
# One rule for every table (TABLES in common.smk says what each is made of).


rule aggregate_table:
    input:
        evals=table_evals,
        paper="config/paper_tables.yaml",
    output:
        cells=f"{RESULTS}/{{table}}.parquet",
        jobs=f"{RESULTS}/{{table}}_jobs.parquet",
    params:
        config=config_json(),
        benchmarks=table_benchmarks,
        runs=RUNS,
    log:
        f"{LOGS}/aggregate/{{table}}.log",
    conda:
        ENV
    shell:
        "editrepro aggregate --table {wildcards.table} --config {params.config} --evals {input.evals} "
        "--benchmarks {params.benchmarks} --runs-root {params.runs} --paper-tables {input.paper} "
        "--out {output.cells} --jobs-out {output.jobs} > {log} 2>&1"


rule results:
    input:
        table1="results/table1.parquet",
        parts=[f"{RESULTS}/{t}.parquet" for t in TABLES],
    output:
        f"{RESULTS}/results.parquet",
    params:
        config=config_json(),
    log:
        f"{LOGS}/results.log",
    conda:
        ENV
    shell:
        "editrepro aggregate --table all --config {params.config} --table1 {input.table1} "
        "--parts {input.parts} --out {output} > {log} 2>&1"
