# LaViT's dense-prediction tables: each backbone of the LaViT table, from its own ImageNet-1k
# checkpoint (train_lavit), as RetinaNet on COCO (torchvision's detector, 1x and 3x schedules) and
# as Semantic FPN and UperNet on ADE20K; the `evaluate` rule (evaluate.smk) scores them (COCOeval box AP;
# single- and multi-scale mIoU) and writes the JSONs the LaViT table reads.


rule detect:
    input:
        recipe=lambda wildcards: recipe_file(f"detect_{wildcards.schedule}"),
        data=data_ready("coco"),
        init=f"{RUNS}/lavit_224/{{model}}/seed{{seed}}/model.pth",
    output:
        weights=f"{RUNS}/coco_{{schedule}}/{{model}}/seed{{seed}}/model.pth",
        metrics=f"{RUNS}/coco_{{schedule}}/{{model}}/seed{{seed}}/metrics.json",
    params:
        launch=launcher(lambda wildcards: f"detect_{wildcards.schedule}"),
        sets=lambda wildcards: recipe_overrides(f"detect_{wildcards.schedule}"),
        arch=model_arch,
        model_args=model_args,
        img_size=lambda wildcards: lavit_pixels(),   # the backbone's; the detector resizes to its min_size
        dataset="coco",
        data_root=data_root("coco"),
        init=lambda wildcards, input: f"--init-checkpoint {input.init}",
        outdir=lambda wildcards, output: Path(output.weights).parent,
        compute=compute_args(),
        experiment="lavit",
        run_name=lambda wildcards: f"{NAME}/coco_{wildcards.schedule}/{wildcards.model}/seed{wildcards.seed}",
        tags=lambda wildcards: dense_tags(f"coco_{wildcards.schedule}", wildcards.model, wildcards.seed),
    resources:
        gpu=0,
        slurm_partition=cluster_resource("partition"),
        slurm_account=cluster_resource("account"),
    log:
        f"{LOGS}/detect/coco_{{schedule}}/{{model}}/seed{{seed}}.log",
    benchmark:
        f"{LOGS}/benchmarks/runs/coco_{{schedule}}/{{model}}/seed{{seed}}.tsv"
    conda:
        ENV
    shell:
        TRAIN_SHELL


rule segment_dense:
    input:
        recipe=lambda wildcards: recipe_file(f"segment_{wildcards.head}"),
        data=data_ready("ade20k"),
        init=f"{RUNS}/lavit_224/{{model}}/seed{{seed}}/model.pth",
    output:
        weights=f"{RUNS}/ade20k_{{head}}/{{model}}/seed{{seed}}/model.pth",
        metrics=f"{RUNS}/ade20k_{{head}}/{{model}}/seed{{seed}}/metrics.json",
    params:
        launch=launcher(lambda wildcards: f"segment_{wildcards.head}"),
        sets=lambda wildcards: recipe_overrides(f"segment_{wildcards.head}"),
        arch=model_arch,
        model_args=model_args,
        img_size=lambda wildcards: dense_crop(),
        dataset="ade20k",
        data_root=data_root("ade20k"),
        init=lambda wildcards, input: f"--init-checkpoint {input.init}",
        outdir=lambda wildcards, output: Path(output.weights).parent,
        compute=compute_args(),
        experiment="lavit",
        run_name=lambda wildcards: f"{NAME}/ade20k_{wildcards.head}/{wildcards.model}/seed{wildcards.seed}",
        tags=lambda wildcards: dense_tags(f"ade20k_{wildcards.head}", wildcards.model, wildcards.seed),
    resources:
        gpu=0,
        slurm_partition=cluster_resource("partition"),
        slurm_account=cluster_resource("account"),
    log:
        f"{LOGS}/segment_dense/ade20k_{{head}}/{{model}}/seed{{seed}}.log",
    benchmark:
        f"{LOGS}/benchmarks/runs/ade20k_{{head}}/{{model}}/seed{{seed}}.tsv"
    conda:
        ENV
    shell:
        TRAIN_SHELL
