"""``editrepro figures``: the report's figures for Table 3 from the pipeline's own checkpoints."""
import argparse

HELP = "draw the attention-sink, top-1 vs FLOPs, attention-map and training-curve figures"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True,
                   help="the workflow config: JSON text (name, comparable_to_paper), or a YAML / JSON config file")
    p.add_argument("--cells", required=True, help="Table 3 cells parquet")
    p.add_argument("--table1", required=True, help="results/table1.parquet (measured FLOPs)")
    p.add_argument("--deit3", required=True, help="model.pth of a DeiT III run")
    p.add_argument("--edit", required=True, help="model.pth of an EDIT run (same data and size)")
    p.add_argument("--data-root", required=True, help="the ImageNet-1k root the sample images come from")
    p.add_argument("--images", type=int, default=3, help="sample images in the attention-map figure")
    p.add_argument("--runs", nargs="*", default=[], help="run folders (training curves if MLflow is unreachable)")
    p.add_argument("--experiment", default="table3")
    p.add_argument("--out-dir", required=True)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import pandas as pd

    from ..analysis import figures as model_figures
    from ..data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, build_dataset, build_eval_transform
    from ..reporting import figures
    from ..schema import config_arg
    from ..training.evaluation import load_trained_model

    config = config_arg(args.config)
    note = "" if config.get("comparable_to_paper") else f"config '{config['name']}': stand-in data, not comparable"
    out = Path(args.out_dir)
    deit3, cfg_b = load_trained_model(args.deit3)
    edit, cfg_e = load_trained_model(args.edit)
    data = build_dataset("imagenet1k", args.data_root, "val", transform=build_eval_transform(cfg_e["img_size"]))
    images = model_figures.sample_images(data, count=max(args.images, 8))
    labels = (f"DeiT III ({cfg_b['model']}, --deit3 {args.deit3})", f"EDIT ({cfg_e['model']}, --edit {args.edit})")
    written = [
        model_figures.attention_sink(deit3, edit, images, out / "fig1_attention_sink.png", labels, note),
        figures.top1_vs_flops(pd.read_parquet(args.cells), pd.read_parquet(args.table1),
                              out / "fig4_top1_vs_flops.png", note),
        figures.paired_gains(pd.read_parquet(args.cells), out / "table3_paired_gains.png", note),
        model_figures.attention_maps(edit, images[:args.images], out / "fig5_attention_maps.png",
                                     IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, note),
        figures.training_curves(out / "table3_training_curves.png", args.experiment, config["name"], args.runs,
                                note=note),
    ]
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
