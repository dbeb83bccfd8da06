# Pretraining from scratch: ImageNet-1k at 224 (Table 3a) and ImageNet-21k at 224 (Table 3b).


rule pretrain_in1k:
    input:
        recipe=recipe_file("pretrain_in1k"),
        data=data_ready("imagenet1k"),
    output:
        weights=f"{RUNS}/in1k_224/{{model}}/seed{{seed}}/model.pth",
        metrics=f"{RUNS}/in1k_224/{{model}}/seed{{seed}}/metrics.json",
    params:
        launch=launcher("pretrain_in1k"),
        sets=recipe_overrides("pretrain_in1k"),
        arch=model_arch,
        model_args=model_args,
        img_size=pixels(224),
        dataset="imagenet1k",
        data_root=data_root("imagenet1k"),
        init="",
        outdir=lambda wildcards, output: Path(output.weights).parent,
        compute=compute_args(),
        experiment="table3",
        run_name=lambda wildcards: f"{NAME}/in1k_224/{wildcards.model}/seed{wildcards.seed}",
        tags=lambda wildcards: tags(table="table3", row=wildcards.model, stage="pretrain_in1k", resolution=224,
                                    config=NAME, seed=wildcards.seed),
    resources:
        gpu=0,
        slurm_partition=cluster_resource("partition"),
        slurm_account=cluster_resource("account"),
    log:
        f"{LOGS}/pretrain_in1k/{{model}}/seed{{seed}}.log",
    benchmark:
        f"{LOGS}/benchmarks/runs/in1k_224/{{model}}/seed{{seed}}.tsv"
    conda:
        ENV
    shell:
        TRAIN_SHELL


rule pretrain_in21k:
    input:
        recipe=recipe_file("pretrain_in21k"),
        data=data_ready("imagenet21k"),
    output:
        weights=f"{RUNS}/in21k_pretrain/{{model}}/seed{{seed}}/model.pth",
        metrics=f"{RUNS}/in21k_pretrain/{{model}}/seed{{seed}}/metrics.json",
    params:
        launch=launcher("pretrain_in21k"),
        sets=recipe_overrides("pretrain_in21k"),
        arch=model_arch,
        model_args=model_args,
        img_size=pixels(224),
        dataset="imagenet21k",
        data_root=data_root("imagenet21k"),
        init="",
        outdir=lambda wildcards, output: Path(output.weights).parent,
        compute=compute_args(),
        experiment="table3",
        run_name=lambda wildcards: f"{NAME}/in21k_pretrain/{wildcards.model}/seed{wildcards.seed}",
        tags=lambda wildcards: tags(table="table3", row=wildcards.model, stage="pretrain_in21k", resolution=224,
                                    config=NAME, seed=wildcards.seed),
    resources:
        gpu=0,
        slurm_partition=cluster_resource("partition"),
        slurm_account=cluster_resource("account"),
    log:
        f"{LOGS}/pretrain_in21k/{{model}}/seed{{seed}}.log",
    benchmark:
        f"{LOGS}/benchmarks/runs/in21k_pretrain/{{model}}/seed{{seed}}.tsv"
    conda:
        ENV
    shell:
        TRAIN_SHELL
