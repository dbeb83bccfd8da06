"""``editrepro ablation-figure``: an ablation table's variants against their full model, as a figure."""
import argparse

HELP = "draw an ablation table's paired differences (variant - full model) with their intervals"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..tables import TABLES   # the registered tables (no torch)

    p.add_argument("--table", required=True, choices=[name for name in TABLES if name.endswith("_ablation")])
    p.add_argument("--cells", required=True, help="the table's cells parquet (editrepro aggregate)")
    p.add_argument("--config", required=True,
                   help="the workflow config: JSON text (name, comparable_to_paper), or a YAML / JSON config file")
    p.add_argument("--out", required=True, help="PNG to write")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..reporting.figures import ablation_deltas
    from ..schema import config_arg
    from ..tables import TABLES

    config = config_arg(args.config)
    note = "" if config.get("comparable_to_paper") else f"config '{config['name']}': stand-in data, not comparable"
    ablation_deltas(pd.read_parquet(args.cells), args.out, TABLES[args.table].title, note)
    print(f"wrote {args.out}")
    return 0
