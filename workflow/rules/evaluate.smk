# Evaluation of every finished run the tables read, one rule for all: ImageNet-1k top-1 / top-5
# (Table 3 and LaViT's, at the run's resolution and its recipe's crop ratio), the transfer datasets'
# top-1 (Table 4), ADE20K mIoU single- and multi-scale (Table 5, LaViT's Semantic FPN and UperNet) and
# COCO box AP (LaViT's RetinaNet), and the ablation tables' variants. The run folder's name says which: the table
# that owns it (editrepro.tables, its `evaluations`) gives its tags (the cell the JSON fills), the data it waits for
# and the dataset it names.


rule evaluate:
    input:
        weights=LAYOUT.weights("{run}", "{model}", "{seed}"),
        data=eval_data,
    output:
        LAYOUT.eval_json("{run}", "{model}", "{seed}"),
    params:
        data=eval_args,
        tags=eval_tags,
        workers=config["compute"]["workers"],
    wildcard_constraints:
        run=EVAL_RUNS,
    resources:
        gpu=0,
        slurm_partition=cluster_resource("partition"),
        slurm_account=cluster_resource("account"),
    log:
        LAYOUT.eval_log("{run}", "{model}", "{seed}"),
    benchmark:
        LAYOUT.bench("eval", "{run}", "{model}", "{seed}")
    conda:
        ENV
    shell:
        "editrepro evaluate --weights {input.weights} {params.data} --workers {params.workers} {params.tags} "
        "--out {output} > {log} 2>&1"
