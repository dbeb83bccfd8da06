# Data: the embedded demo datasets, and the ImageNet-21k cleaning (paper Section 4.2).


rule demo_data:
    output:
        DEMO_MARKER,
    log:
        f"{LOGS}/demo_data.log",
    benchmark:
        f"{LOGS}/benchmarks/data/demo_data.tsv"
    shell:
        "editrepro demo-data --out {DATA_ROOT} > {log} 2>&1"


def in21k_source():
    """The demo tree (after generation) or the listing/tree the config points at."""
    if config["data"]["generate_demo"]:
        return [str(DEMO_MARKER)]
    listing = config["data"]["imagenet21k_listing"]
    return [listing] if listing else []


def in21k_source_args():
    root = Path(config["data"]["imagenet21k"])
    root = root if root.is_absolute() else DATA_ROOT / root
    listing = config["data"]["imagenet21k_listing"]
    return f"--root {shlex.quote(str(root))}" + (f" --listing {shlex.quote(listing)}" if listing else "")


rule clean_in21k:
    input:
        in21k_source(),
    output:
        train=f"{IN21K}/train.parquet",
        val=f"{IN21K}/val.parquet",
        stats=f"{IN21K}/stats.json",
    params:
        source=in21k_source_args(),
        rules=lambda wildcards: (
            "--min-images {min_images} --drop-rule {drop_rule} --val-per-class {val_per_class} "
            "--val-selection {val_selection} --seed {seed}".format(**config["in21k_cleaning"])
        ),
    log:
        f"{LOGS}/clean_in21k.log",
    benchmark:
        f"{LOGS}/benchmarks/data/clean_in21k.tsv"
    shell:
        "editrepro clean-in21k {params.source} --out {IN21K} {params.rules} --no-progress > {log} 2>&1"
