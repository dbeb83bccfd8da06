# Data: the embedded demo datasets, and the ImageNet-21k cleaning (paper Section 4.2).


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
        in21k_source(),
    output:
        train=f"{IN21K}/train.parquet",
        val=f"{IN21K}/val.parquet",
        stats=f"{IN21K}/stats.json",
    params:
        source=in21k_source_args(),
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
