# LaViT's attention-saturation figure (LaViT's Fig. 3) over this run's pyramids and ViTs. LaViT and PVTv2 are
# trained by rule train_lavit (train.smk, config/recipes/lavit_in1k.yaml) and scored by the `evaluate` rule.


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
