# Aggregation: a table's evaluations and its jobs' benchmark files -> tidy parquet.
# One rule for every table (editrepro.tables says what each is made of; PLANNED_TABLES in common.smk which this config has).


rule aggregate_table:
    input:
        evals=table_evals,
        paper="config/paper_tables.yaml",
    output:
        cells=LAYOUT.table("{table}"),
        jobs=LAYOUT.table_jobs("{table}"),
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
        parts=[LAYOUT.table(t) for t in PLANNED_TABLES],
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
