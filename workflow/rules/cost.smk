# GPU-hours before anyone spends them: snakemake cost [--configfile config/paper.yaml]


rule cost:
    input:
        recipes=sorted({job["recipe"] for job in training_plan()}),
    output:
        "reports/cost.md",
    params:
        plan=lambda wildcards: shlex.quote(json.dumps(training_plan())),
        config=lambda wildcards: shlex.quote(json.dumps({"name": NAME, **config["cost"],
                                                         "generate_demo": config["data"]["generate_demo"]})),
    log:
        f"{LOGS}/cost.log",
    conda:
        ENV
    shell:
        "editrepro cost --plan {params.plan} --config {params.config} --out {output} > {log} 2>&1"
