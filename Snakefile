# The reproduction DAG: a table of contents. Each rule is a thin call into `editrepro`.
#
#   snakemake --cores all reproduce_table3                          # demo (config/config.yaml), CPU
#   snakemake --cores all reproduce_lavit                           # LaViT against PVTv2, demo
#   snakemake --cores all reproduce_edit_ablation reproduce_lavit_ablation   # the design-choice ablations, demo
#   snakemake --cores all attention_sink calibrate                  # attention sink of any timm ViT
#   snakemake all --cores all --configfile config/paper.yaml         # the paper's matrix (targets first:
#                                                                     # --configfile takes every word after it)
#   snakemake reproduce_table3 --profile workflow/profiles/slurm --configfile config/paper.yaml
from snakemake.utils import min_version

min_version("9.0")


# The demo is the default config. --configfile replaces it instead of being merged into it
# (Snakemake deep-merges config files: the paper run would inherit the demo's settings).
if not config:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/table1.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/lavit.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/attention.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/cost.smk"


# Seconds of pandas and tabulate: on a cluster they run where snakemake runs, not through the queue.
localrules:
    cost,
    aggregate_table,
    results,
    report_table,
    report,
    figures_ablation,
    attention_sink,
    calibrate,


onstart:
    # Real runs only, before any job is submitted: every data path a job to run reads exists (a dry run warns).
    check_data_paths()
    # A new SQLite tracking store must exist before parallel jobs open it.
    shell("editrepro tracking-init")


rule all:
    default_target: True
    input:
        rules.report.output,
        [f"reports/{table}.md" for table in PLANNED_TABLES],
        ATTENTION_REPORTS,


rule reproduce_table3:
    input:
        "reports/table3.md",
        rules.figures_table3.output,


rule reproduce_table4:
    input:
        "reports/table4.md",


rule reproduce_table5:
    input:
        "reports/table5.md",


rule reproduce_edit_ablation:
    input:
        "reports/edit_ablation.md",


rule reproduce_lavit_ablation:
    input:
        "reports/lavit_ablation.md",


rule reproduce_lavit:
    input:
        "reports/lavit.md",
        [SATURATION_FIGURE] if saturation_models() else [],
