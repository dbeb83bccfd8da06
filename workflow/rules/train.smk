# Training: one rule definition over the stage table (editrepro.plan.TRAIN_RULES), a rule per entry named as the
# Slurm profile's resources are. Each job is what the plan makes of its wildcards (Plan.train_job): its stage and
# recipe, resolution, dataset, the run it starts from (same model and seed) and its MLflow tags.
#
#   pretrain_in1k         in1k_224                ImageNet-1k at 224 from scratch (Table 3a)
#   finetune_384          in1k_384                fine-tuned at 384 from in1k_224; position embeddings resampled
#   pretrain_in21k        in21k_pretrain          ImageNet-21k at 224 (Table 3b)
#   finetune_in21k        in21k_224, in21k_384    ImageNet-1k from in21k_pretrain
#   train_deit3_official  in1k_official_*, in21k_official_*   DeiT III's own README recipes (editrepro.baselines)
#   transfer              transfer_<dataset>      Table 4's transfer recipe from in1k_224
#   segment               ade20k                  Segmenter on ADE20K from in1k_224 (Table 5)
#   train_lavit           lavit_224               LaViT and PVTv2 from scratch by one recipe
#   detect                coco_1x, coco_3x        RetinaNet on COCO from lavit_224
#   segment_dense         ade20k_semantic_fpn, ade20k_upernet   Semantic FPN and UperNet on ADE20K from lavit_224
#   train_ablation        edit_ablation, lavit_ablation   each ablation variant, by its full model's stage and recipe
#
# The `evaluate` rule (evaluate.smk) scores every run a table reads.


for spec in TRAIN_RULES:

    rule:
        name:
            spec.name
        input:
            **train_inputs(spec),
        output:
            weights=LAYOUT.weights(spec.run, "{model}", "{seed}"),
            metrics=LAYOUT.metrics(spec.run, "{model}", "{seed}"),
        wildcard_constraints:
            **spec.constraints,
        params:
            **train_params(spec),
        resources:
            gpu=0,
            slurm_partition=cluster_resource("partition"),
            slurm_account=cluster_resource("account"),
            **slurm_launch(),
        log:
            LAYOUT.train_log(spec.log, "{model}", "{seed}"),
        benchmark:
            LAYOUT.bench("runs", spec.run, "{model}", "{seed}")
        conda:
            ENV
        shell:
            TRAIN_SHELL
