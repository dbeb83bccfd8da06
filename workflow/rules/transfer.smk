# Transfer learning (Table 4): ImageNet-1k-pretrained models fine-tuned with the transfer
# recipe of Table 2 on CIFAR-10/100, Flowers-102, DTD and Caltech-256 at 224, then scored by
# the `evaluate` rule on each dataset's test split (the readers' "val").


rule transfer:
    input:
        recipe=recipe_file("transfer"),
        data=data_ready("transfer"),
        init=f"{RUNS}/in1k_224/{{model}}/seed{{seed}}/model.pth",
    output:
        weights=f"{RUNS}/transfer_{{dataset}}/{{model}}/seed{{seed}}/model.pth",
        metrics=f"{RUNS}/transfer_{{dataset}}/{{model}}/seed{{seed}}/metrics.json",
    params:
        launch=launcher("transfer"),
        sets=recipe_overrides("transfer"),
        arch=model_arch,
        model_args=model_args,
        img_size=pixels(224),
        dataset=lambda wildcards: wildcards.dataset,
        data_root=lambda wildcards, input: data_root_of(wildcards.dataset, input),
        init=lambda wildcards, input: f"--init-checkpoint {input.init}",
        outdir=lambda wildcards, output: Path(output.weights).parent,
        compute=compute_args(),
        experiment="table4",
        run_name=lambda wildcards: f"{NAME}/transfer_{wildcards.dataset}/{wildcards.model}/seed{wildcards.seed}",
        tags=lambda wildcards: tags(table="table4", row=wildcards.model, column=wildcards.dataset,
                                    stage="transfer", resolution=224, config=NAME, seed=wildcards.seed),
    resources:
        gpu=0,
        slurm_partition=cluster_resource("partition"),
        slurm_account=cluster_resource("account"),
    log:
        f"{LOGS}/transfer/{{dataset}}/{{model}}/seed{{seed}}.log",
    benchmark:
        f"{LOGS}/benchmarks/runs/transfer_{{dataset}}/{{model}}/seed{{seed}}.tsv"
    conda:
        ENV
    shell:
        TRAIN_SHELL
