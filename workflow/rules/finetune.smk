# Fine-tuning: ImageNet-1k 224 -> 384 (Table 3a), ImageNet-21k -> ImageNet-1k at 224 and 384 (3b).
# The 224 checkpoint's position embeddings are resampled on load (bicubic, no antialias).


rule finetune_384:
    input:
        recipe=recipe_file("finetune_384"),
        data=data_ready("imagenet1k"),
        init=f"{RUNS}/in1k_224/{{model}}/seed{{seed}}/model.pth",
    output:
        weights=f"{RUNS}/in1k_384/{{model}}/seed{{seed}}/model.pth",
        metrics=f"{RUNS}/in1k_384/{{model}}/seed{{seed}}/metrics.json",
    params:
        launch=launcher("finetune_384"),
        sets=recipe_overrides("finetune_384"),
        arch=model_arch,
        model_args=model_args,
        img_size=pixels(384),
        dataset="imagenet1k",
        data_root=data_root("imagenet1k"),
        init=lambda wildcards, input: f"--init-checkpoint {input.init}",
        outdir=lambda wildcards, output: Path(output.weights).parent,
        compute=compute_args(),
        experiment="table3",
        run_name=lambda wildcards: f"{NAME}/in1k_384/{wildcards.model}/seed{wildcards.seed}",
        tags=lambda wildcards: tags(table="table3", row=wildcards.model, stage="finetune_384", resolution=384,
                                    config=NAME, seed=wildcards.seed),
    resources:
        gpu=0,
        slurm_partition=cluster_resource("partition"),
        slurm_account=cluster_resource("account"),
    log:
        f"{LOGS}/finetune_384/{{model}}/seed{{seed}}.log",
    benchmark:
        f"{LOGS}/benchmarks/runs/in1k_384/{{model}}/seed{{seed}}.tsv"
    conda:
        ENV
    shell:
        TRAIN_SHELL


rule finetune_in21k:
    input:
        recipe=recipe_file("finetune_in21k"),
        data=data_ready("imagenet1k"),
        init=f"{RUNS}/in21k_pretrain/{{model}}/seed{{seed}}/model.pth",
    output:
        weights=f"{RUNS}/in21k_{{res}}/{{model}}/seed{{seed}}/model.pth",
        metrics=f"{RUNS}/in21k_{{res}}/{{model}}/seed{{seed}}/metrics.json",
    params:
        launch=launcher("finetune_in21k"),
        sets=recipe_overrides("finetune_in21k"),
        arch=model_arch,
        model_args=model_args,
        img_size=lambda wildcards: pixels(wildcards.res),
        dataset="imagenet1k",
        data_root=data_root("imagenet1k"),
        init=lambda wildcards, input: f"--init-checkpoint {input.init}",
        outdir=lambda wildcards, output: Path(output.weights).parent,
        compute=compute_args(),
        experiment="table3",
        run_name=lambda wildcards: f"{NAME}/in21k_{wildcards.res}/{wildcards.model}/seed{wildcards.seed}",
        tags=lambda wildcards: tags(table="table3", row=wildcards.model, stage="finetune_in21k",
                                    resolution=wildcards.res, config=NAME, seed=wildcards.seed),
    resources:
        gpu=0,
        slurm_partition=cluster_resource("partition"),
        slurm_account=cluster_resource("account"),
    log:
        f"{LOGS}/finetune_in21k/{{res}}/{{model}}/seed{{seed}}.log",
    benchmark:
        f"{LOGS}/benchmarks/runs/in21k_{{res}}/{{model}}/seed{{seed}}.tsv"
    conda:
        ENV
    shell:
        TRAIN_SHELL
