# GPU-hours before anyone spends them: snakemake cost [--configfile config/paper.yaml]


rule cost:
    input:
        recipes=sorted({job["recipe"] for job in training_plan(PLAN)}),
        paper_tables="config/paper_tables.yaml",
    output:
        "reports/cost.md",
    params:
        plan=lambda wildcards: shlex.quote(json.dumps(training_plan(PLAN))),
        config=lambda wildcards: shlex.quote(json.dumps({"name": NAME, **config["cost"],
                                                         "generate_demo": config["data"]["generate_demo"]})),
        cells=lambda wildcards: shlex.quote(json.dumps(cost_cells(PLAN))),
        stats=shlex.quote(json.dumps(config["stats"])),
    log:
        f"{LOGS}/cost.log",
    conda:
        ENV
    shell:
        "editrepro cost --plan {params.plan} --config {params.config} --cells {params.cells} "
        "--stats {params.stats} --paper-tables {input.paper_tables} --out {output} > {log} 2>&1"
