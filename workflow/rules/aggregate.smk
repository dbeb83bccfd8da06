# Aggregation: a table's evaluations and its jobs' benchmark files -> tidy parquet.


def config_json():
    return shlex.quote(json.dumps({"name": NAME, "comparable_to_paper": config["comparable_to_paper"],
                                   "description": config["description"]}))


def table3_benchmarks():
    """Benchmark files of every job Table 3 depends on: data, training, evaluation."""
    runs = table3_runs()
    files = [f"{LOGS}/benchmarks/eval/{run}/{model}.tsv" for run, model, _ in runs]
    files += [f"{LOGS}/benchmarks/runs/{run}/{model}.tsv" for run, model, _ in runs]
    pretrained = sorted({model for run, model, _ in runs if run.startswith("in1k_384")})
    files += [f"{LOGS}/benchmarks/runs/in1k_224/{model}.tsv" for model in pretrained]
    in21k = sorted({model for run, model, _ in runs if run.startswith("in21k_")})
    files += [f"{LOGS}/benchmarks/runs/in21k_pretrain/{model}.tsv" for model in in21k]
    if in21k:
        files.append(f"{LOGS}/benchmarks/data/clean_in21k.tsv")
    if config["data"]["generate_demo"] and runs:
        files.append(f"{LOGS}/benchmarks/data/demo_data.tsv")
    return sorted(set(files))


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
    log:
        f"{LOGS}/aggregate_table3.log",
    shell:
        "editrepro aggregate --table table3 --config {params.config} --evals {input.evals} "
        "--benchmarks {params.benchmarks} --runs-root {RUNS} --paper-tables {input.paper} "
        "--out {output.cells} --jobs-out {output.jobs} > {log} 2>&1"
