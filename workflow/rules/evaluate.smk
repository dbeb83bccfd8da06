# Evaluation of a finished run on ImageNet-1k val: top-1 / top-5 at the run's resolution and
# its recipe's crop ratio (1.0 for Table 3, 0.875 for LaViT's). The JSON carries the cell it
# fills (table, half, row, resolution).


rule evaluate:
    input:
        weights=f"{RUNS}/{{run}}/{{model}}/model.pth",
        data=data_ready("imagenet1k"),
    output:
        f"{EVALS}/{{run}}/{{model}}.json",
    params:
        data_root=dataset_root("imagenet1k"),
        tags=eval_tags,
        workers=config["compute"]["workers"],
    wildcard_constraints:
        run=r"in1k_(224|384)|in21k_(224|384)|lavit_224",
    resources:
        gpu=0,
        slurm_partition=cluster_resource("partition"),
        slurm_account=cluster_resource("account"),
    log:
        f"{LOGS}/evaluate/{{run}}/{{model}}.log",
    benchmark:
        f"{LOGS}/benchmarks/eval/{{run}}/{{model}}.tsv"
    shell:
        "editrepro evaluate --weights {input.weights} --dataset imagenet1k --data-root {params.data_root} "
        "--split val --workers {params.workers} {params.tags} --out {output} > {log} 2>&1"
