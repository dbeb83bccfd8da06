# The reproduction DAG: a table of contents. Each rule calls the package's CLI.
#   snakemake --cores all reproduce_table1
from snakemake.utils import min_version

min_version("9.0")


include: "workflow/rules/table1.smk"


rule all:
    default_target: True
    input:
        rules.reproduce_table1.input,
