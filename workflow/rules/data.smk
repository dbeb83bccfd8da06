# Data: the embedded demo datasets, and ImageNet-21K-P (paper Section 4.2) in the form the config names (IN21K_FORM):
# the processed release indexed as it is (in21k_p), or the raw release cleaned (clean_in21k) and resized as the
# reference's resize.py does (resize_in21k). Pretraining reads the manifests of that form (IN21K_READ).


rule demo_data:
    output:
        DEMO_MARKER,
    params:
        out=lambda wildcards, output: Path(output[0]).parent,   # data.root: demo-data writes DONE into it last
    log:
        f"{LOGS}/demo_data.log",
    benchmark:
        f"{LOGS}/benchmarks/data/demo_data.tsv"
    conda:
        ENV
    shell:
        "editrepro demo-data --out {params.out} > {log} 2>&1"


rule clean_in21k:
    input:
        PLAN.in21k_source(),
    output:
        train=f"{IN21K}/train.parquet",
        val=f"{IN21K}/val.parquet",
        stats=f"{IN21K}/stats.json",
    params:
        source=PLAN.in21k_source_args(),
        out=lambda wildcards, output: Path(output.train).parent,
        rules=lambda wildcards: (
            "--min-images {min_images} --drop-rule {drop_rule} --val-per-class {val_per_class} "
            "--val-selection {val_selection} --seed {seed}".format(**config["in21k_cleaning"])
        ),
    log:
        f"{LOGS}/clean_in21k.log",
    benchmark:
        f"{LOGS}/benchmarks/data/clean_in21k.tsv"
    conda:
        ENV
    shell:
        "editrepro clean-in21k {params.source} --out {params.out} {params.rules} --no-progress > {log} 2>&1"


rule resize_in21k:
    input:
        train=f"{IN21K}/train.parquet",
        val=f"{IN21K}/val.parquet",
        stats=f"{IN21K}/stats.json",
    output:
        train=f"{IN21K_RESIZED}/train.parquet",
        val=f"{IN21K_RESIZED}/val.parquet",
        stats=f"{IN21K_RESIZED}/stats.json",
    params:
        manifests=lambda wildcards, input: Path(input.train).parent,
        out=lambda wildcards, output: Path(output.train).parent,   # the images go to OUT/{train,val}/<synset>/
        mode=IN21K_RESIZE,
        size=IN21K_RESIZE_SIZE,
    threads: 32   # processes of the resize; a local run gets at most --cores
    log:
        f"{LOGS}/resize_in21k.log",
    benchmark:
        f"{LOGS}/benchmarks/data/resize_in21k.tsv"
    conda:
        ENV
    shell:
        "editrepro resize-in21k --manifests {params.manifests} --out {params.out} --mode {params.mode} "
        "--size {params.size} --workers {threads} --no-progress > {log} 2>&1"


rule in21k_p:
    output:
        train=f"{IN21K_P}/train.parquet",
        val=f"{IN21K_P}/val.parquet",
        stats=f"{IN21K_P}/stats.json",
    params:
        source=PLAN.in21k_p_args(),
        out=lambda wildcards, output: Path(output.train).parent,
    log:
        f"{LOGS}/in21k_p.log",
    benchmark:
        f"{LOGS}/benchmarks/data/in21k_p.tsv"
    conda:
        ENV
    # one threaded scan of each split; its progress bar goes to the log
    shell:
        "editrepro in21k-p {params.source} --out {params.out} > {log} 2>&1"
