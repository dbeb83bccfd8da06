# DeiT III trained by its own README recipes: Table 3's `deit3_official` baseline (tables.table3[.<half>].baselines;
# docs/reference.md, "DeiT III's own results and recipe"). One rule for every job of those recipes; the run folder says
# which (editrepro.baselines.official_chain):
#   in1k_official_224        Tiny/Small: 800 epochs at 224 (deit3_official_in1k_small)
#   in1k_official_192        Base: 800 epochs at 192 px (deit3_official_in1k_base)
#   in1k_official_224        Base: 20 epochs at 224 from in1k_official_192 (deit3_official_in1k_base_ft224)
#   in1k_official_384        20 epochs at 384 from in1k_official_224 (deit3_official_in1k_ft384)
#   in21k_official_pretrain  240 epochs on ImageNet-21k at 224 (deit3_official_in21k)
#   in21k_official_224/384   50 epochs on ImageNet-1k from in21k_official_pretrain (deit3_official_in21k_ft)
# The evaluate rule scores the 224 and 384 folders as rows "<model> (official recipe)".


rule train_deit3_official:
    input:
        recipe=lambda wildcards: recipe_file(official_job(wildcards.orun, wildcards.model)["stage"]),
        data=lambda wildcards: data_ready(official_params(wildcards)["dataset"]),
        init=official_init,
    output:
        weights=f"{RUNS}/{{orun}}/{{model}}/seed{{seed}}/model.pth",
        metrics=f"{RUNS}/{{orun}}/{{model}}/seed{{seed}}/metrics.json",
    wildcard_constraints:
        orun=r"in1k_official_(192|224|384)|in21k_official_(pretrain|224|384)",
    params:
        launch=launcher(lambda wildcards: official_job(wildcards.orun, wildcards.model)["stage"]),
        sets=lambda wildcards: recipe_overrides(official_job(wildcards.orun, wildcards.model)["stage"]),
        arch=model_arch,
        model_args=model_args,
        img_size=lambda wildcards: official_params(wildcards)["img_size"],
        dataset=lambda wildcards: official_params(wildcards)["dataset"],
        data_root=lambda wildcards, input: data_root_of(official_params(wildcards)["dataset"], input),
        init=lambda wildcards, input: f"--init-checkpoint {input.init}" if official_init(wildcards) else "",
        outdir=lambda wildcards, output: Path(output.weights).parent,
        compute=compute_args(),
        experiment="table3",
        run_name=lambda wildcards: f"{NAME}/{wildcards.orun}/{wildcards.model}/seed{wildcards.seed}",
        tags=lambda wildcards: tags(table="table3", row=wildcards.model,
                                    stage=official_job(wildcards.orun, wildcards.model)["stage"],
                                    resolution=official_job(wildcards.orun, wildcards.model)["res"],
                                    baseline=OFFICIAL, config=NAME, seed=wildcards.seed),
    resources:
        gpu=0,
        slurm_partition=cluster_resource("partition"),
        slurm_account=cluster_resource("account"),
    log:
        f"{LOGS}/deit3_official/{{orun}}/{{model}}/seed{{seed}}.log",
    benchmark:
        f"{LOGS}/benchmarks/runs/{{orun}}/{{model}}/seed{{seed}}.tsv"
    conda:
        ENV
    shell:
        TRAIN_SHELL
