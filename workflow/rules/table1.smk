# Table 1 and the Params/FLOPs columns of Table 3: counted, not trained.


rule table1:
    input:
        paper="config/paper_tables.yaml",
    output:
        results="results/table1.parquet",
        report=report("reports/table1.md", caption="../report/table1.rst", category="Tables", labels={"table": "1"}),
    log:
        "logs/table1.log",
    benchmark:
        "logs/benchmarks/table1.tsv"
    conda:
        ENV
    shell:
        "editrepro table1 --paper-tables {input.paper} "
        "--results {output.results} --report {output.report} > {log} 2>&1"


rule reproduce_table1:
    input:
        rules.table1.output,
