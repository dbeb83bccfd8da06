# The report's figures for Table 3: attention sink (Fig. 1), top-1 vs FLOPs (Fig. 4),
# EDIT's per-layer attention maps (Fig. 5) and the training curves, from this run's checkpoints.


rule figures_table3:
    input:
        cells=f"{RESULTS}/table3.parquet",
        table1="results/table1.parquet",
        edit=lambda wildcards: f"{run_dir(attention_pair()[0], attention_pair()[1], attention_pair()[3])}/model.pth",
        deit3=lambda wildcards: f"{run_dir(attention_pair()[0], attention_pair()[2], attention_pair()[3])}/model.pth",
        data=data_ready("imagenet1k"),
    output:
        [
            report(f"reports/figures/{name}", caption="../report/figures.rst", category="Figures")
            for name in FIGURES_T3
        ],
    params:
        config=config_json(),
        data_root=data_root("imagenet1k"),
        runs=" ".join(sorted({run_dir(run, model, seed) for run, model, _, seed in table3_runs()})),
        out_dir=lambda wildcards, output: Path(output[0]).parent,
    log:
        f"{LOGS}/figures_table3.log",
    conda:
        ENV
    shell:
        "editrepro figures --config {params.config} --cells {input.cells} --table1 {input.table1} "
        "--deit3 {input.deit3} --edit {input.edit} --data-root {params.data_root} --runs {params.runs} "
        "--out-dir {params.out_dir} > {log} 2>&1"


# An ablation table's variants against their full model (reports/<table>.md shows it).
rule figures_ablation:
    input:
        cells=LAYOUT.table("{table}"),
    output:
        report("reports/figures/{table}_deltas.png", caption="../report/figures.rst", category="Figures"),
    params:
        config=config_json(),
    wildcard_constraints:
        table=ABLATION_TABLES,
    log:
        f"{LOGS}/figures_ablation/{{table}}.log",
    conda:
        ENV
    shell:
        "editrepro ablation-figure --table {wildcards.table} --cells {input.cells} --config {params.config} "
        "--out {output} > {log} 2>&1"
