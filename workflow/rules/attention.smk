# The attention analyses of any timm ViT (config `attention.models`): timm's published weights (pretrained: true),
# checkpoint files timm loads, and this run's own models (trained: <label>). Each model's per-layer attention
# sink and saturation (editrepro attention-sink: CSV, JSON, Fig. 1a/1b, saturation figure) into
# reports/attention/<name>/, one row per model in reports/attention_sink.md (rule attention_sink); the
# pipeline's ImageNet-1k top-1 of the timm models against the published figure in reports/calibration.md
# (rule calibrate). The helpers, checkpoint paths of this run's models included, are in attention_common.smk.


include: "attention_common.smk"


rule attention_model:
    input:
        weights=attention_weights,
        data=[] if ATTENTION.get("images") else data_ready("imagenet1k"),
    output:
        summary=f"{ATTENTION_DIR}/{{name}}/attention_sink.json",
        csv=f"{ATTENTION_DIR}/{{name}}/attention_sink.csv",
        figures=[
            report(f"{ATTENTION_DIR}/{{name}}/{figure}", caption="../report/attention.rst", category="Attention",
                   labels={"model": "{name}", "figure": figure})
            for figure in ("fig1a_attention_sink.png", "fig1b_attention_corners.png", "attention_saturation.png")
        ],
    params:
        source=lambda wildcards: attention_source(wildcards.name),
        images=attention_images,
        images_count=ATTENTION.get("count", 8),
        device=config["compute"]["device"],
        note=attention_note(),
        out=lambda wildcards, output: Path(output.summary).parent,
    wildcard_constraints:
        name=ATTENTION_NAMES,
    resources:
        gpu=0,
        slurm_partition=cluster_resource("partition"),
        slurm_account=cluster_resource("account"),
    log:
        f"{LOGS}/attention/{{name}}.log",
    conda:
        ENV
    shell:
        "editrepro attention-sink {params.source} --images {params.images} --count {params.images_count} "
        "--label {wildcards.name} --device {params.device} --note {params.note} --out {params.out} > {log} 2>&1"


rule attention_sink:
    input:
        [f"{ATTENTION_DIR}/{name}/attention_sink.json" for name in ATTENTION_MODELS],
    output:
        report("reports/attention_sink.md", caption="../report/attention.rst", category="Attention"),
    params:
        config=config_json(),
    log:
        f"{LOGS}/attention_sink.log",
    conda:
        ENV
    shell:
        "editrepro attention-report --sink {input} --config {params.config} --out {output} > {log} 2>&1"


rule calibrate_model:
    input:
        weights=attention_weights,
        data=data_ready("imagenet1k"),
    output:
        f"{RESULTS}/calibration/{{name}}.json",
    params:
        source=lambda wildcards: attention_source(wildcards.name),
        data_root=data_root("imagenet1k"),
        workers=config["compute"]["workers"],
    wildcard_constraints:
        name=ATTENTION_NAMES,
    resources:
        gpu=0,
        slurm_partition=cluster_resource("partition"),
        slurm_account=cluster_resource("account"),
    log:
        f"{LOGS}/calibrate/{{name}}.log",
    conda:
        ENV
    shell:
        "editrepro evaluate {params.source} --dataset imagenet1k --data-root {params.data_root} --split val "
        "--workers {params.workers} --tag name={wildcards.name} --out {output} > {log} 2>&1"


rule calibrate:
    input:
        [f"{RESULTS}/calibration/{name}.json" for name in CALIBRATED],
    output:
        report("reports/calibration.md", caption="../report/attention.rst", category="Attention"),
    params:
        config=config_json(),
        published=" ".join(
            shlex.quote(f"--published={name}={json.dumps(ATTENTION_MODELS[name].get('published_top1'))}")
            for name in CALIBRATED
        ),
    log:
        f"{LOGS}/calibrate.log",
    conda:
        ENV
    shell:
        "editrepro attention-report --calibration {input} {params.published} --config {params.config} "
        "--out {output} > {log} 2>&1"


# Offline stand-in for published weights: a timm model's random (seed 0) state dict beside the demo data, for
# attention.models entries whose checkpoint is <data.root>/timm/<timm name>.random.pth (built with their args).
rule demo_timm_weights:
    output:
        f"{DATA_ROOT}/timm/{{arch}}.random.pth",
    params:
        model_args=random_weights_args,
    wildcard_constraints:
        arch=r"[a-z0-9_]+",
    log:
        f"{LOGS}/demo_timm_weights/{{arch}}.log",
    conda:
        ENV
    shell:
        "editrepro timm-weights --model {wildcards.arch}{params.model_args} --seed 0 --out {output} > {log} 2>&1"
