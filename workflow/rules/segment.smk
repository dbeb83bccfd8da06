# Semantic segmentation (Table 5): Segmenter's Mask Transformer on each backbone, starting
# from the backbone's ImageNet-1k checkpoint (position embeddings resampled to the crop),
# trained on ADE20K with Segmenter's recipe, then scored single- and multi-scale by the `evaluate` rule.


rule segment:
    input:
        recipe=recipe_file("segment"),
        data=data_ready("ade20k"),
        init=f"{RUNS}/in1k_224/{{model}}/seed{{seed}}/model.pth",
    output:
        weights=f"{RUNS}/ade20k/{{model}}/seed{{seed}}/model.pth",
        metrics=f"{RUNS}/ade20k/{{model}}/seed{{seed}}/metrics.json",
    params:
        launch=launcher("segment"),
        sets=recipe_overrides("segment"),
        arch=model_arch,
        model_args=model_args,
        img_size=pixels(512),
        dataset="ade20k",
        data_root=data_root("ade20k"),
        init=lambda wildcards, input: f"--init-checkpoint {input.init}",
        outdir=lambda wildcards, output: Path(output.weights).parent,
        compute=compute_args(),
        experiment="table5",
        run_name=lambda wildcards: f"{NAME}/ade20k/{wildcards.model}/seed{wildcards.seed}",
        tags=lambda wildcards: tags(table="table5", row=wildcards.model, stage="segment", resolution=512, config=NAME,
                                    seed=wildcards.seed),
    resources:
        gpu=0,
        slurm_partition=cluster_resource("partition"),
        slurm_account=cluster_resource("account"),
    log:
        f"{LOGS}/segment/{{model}}/seed{{seed}}.log",
    benchmark:
        f"{LOGS}/benchmarks/runs/ade20k/{{model}}/seed{{seed}}.tsv"
    conda:
        ENV
    shell:
        TRAIN_SHELL
