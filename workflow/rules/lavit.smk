# LaViT (Zhang et al., CVPR 2024) against the PVTv2 it modifies: both trained from scratch on
# ImageNet-1k with one recipe (config/recipes/lavit_in1k.yaml), evaluated by the `evaluate` rule,
# and the attention-saturation figure (LaViT's Fig. 3) over this run's pyramids and ViTs.


rule train_lavit:
    input:
        recipe=recipe_file("lavit_in1k"),
        data=data_ready("imagenet1k"),
    output:
        weights=f"{RUNS}/lavit_224/{{model}}/seed{{seed}}/model.pth",
        metrics=f"{RUNS}/lavit_224/{{model}}/seed{{seed}}/metrics.json",
    params:
        launch=launcher("lavit_in1k"),
        sets=recipe_overrides("lavit_in1k"),
        arch=model_arch,
        model_args=model_args,
        img_size=lambda wildcards: lavit_pixels(),
        dataset="imagenet1k",
        data_root=data_root("imagenet1k"),
        init="",
        outdir=lambda wildcards, output: Path(output.weights).parent,
        compute=compute_args(),
        experiment="lavit",
        run_name=lambda wildcards: f"{NAME}/lavit_224/{wildcards.model}/seed{wildcards.seed}",
        tags=lambda wildcards: tags(table="lavit", row=wildcards.model, stage="lavit_in1k", resolution=224,
                                    config=NAME, seed=wildcards.seed),
    resources:
        gpu=0,
        slurm_partition=cluster_resource("partition"),
        slurm_account=cluster_resource("account"),
    log:
        f"{LOGS}/train_lavit/{{model}}/seed{{seed}}.log",
    benchmark:
        f"{LOGS}/benchmarks/runs/lavit_224/{{model}}/seed{{seed}}.tsv"
    conda:
        ENV
    shell:
        TRAIN_SHELL


rule figures_lavit:
    input:
        weights=[f"{run_dir(run, model, seed)}/model.pth" for _, run, model, seed in saturation_models()],
        data=data_ready("imagenet1k"),
    output:
        report(SATURATION_FIGURE, caption="../report/figures.rst", category="Figures"),
    params:
        labels=" ".join(shlex.quote(f"{label} ({model})") for label, _, model, _ in saturation_models()),
        data_root=data_root("imagenet1k"),
        config=config_json(),
    log:
        f"{LOGS}/figures_lavit.log",
    conda:
        ENV
    shell:
        "editrepro attention-saturation --weights {input.weights} --labels {params.labels} "
        "--data-root {params.data_root} --config {params.config} --out {output} > {log} 2>&1"
