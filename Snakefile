# The reproduction DAG: a table of contents. Each rule is a thin call into `editrepro`.
#
#   snakemake --cores all reproduce_table3                          # demo (config/config.yaml), CPU
#   snakemake --cores all --configfile config/paper.yaml all         # the paper's matrix
#   snakemake --cores all --profile workflow/profiles/slurm reproduce_table3
from snakemake.utils import min_version

min_version("9.0")


# The demo is the default config. --configfile replaces it instead of being merged into it
# (Snakemake deep-merges config files: the paper run would inherit the demo's settings).
if not config:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/table1.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/transfer.smk"
include: "workflow/rules/segment.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/cost.smk"


onstart:
    # A new SQLite tracking store must exist before parallel jobs open it.
    shell("editrepro tracking-init")


rule all:
    default_target: True
    input:
        rules.reproduce_table1.input,
        rules.report_table3.output,


rule reproduce_table3:
    input:
        rules.report_table3.output,
