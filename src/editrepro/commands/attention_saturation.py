"""``editrepro attention-saturation``: LaViT's Fig. 3 from trained checkpoints.

For every model, the cosine similarity of each layer's attention maps with the previous layer's
(per head, over the flattened map, averaged over heads and images), on the same ImageNet-1k
validation images (the first of each class), each resized for its own model. Works for any
checkpoint of ``editrepro train`` whose model has attention this package reads (DeiT III, EDIT's
encoder, PVTv2, LaViT).
"""
import argparse

HELP = "draw the attention-saturation figure (similarity of consecutive layers' attention)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", nargs="+", required=True, help="model.pth of each training job to compare")
    p.add_argument("--labels", nargs="*", default=[], help="one legend label per --weights (default: the model)")
    p.add_argument("--data-root", required=True, help="the ImageNet-1k root the sample images come from")
    p.add_argument("--images", type=int, default=8, help="sample images (one per class)")
    p.add_argument("--config", default='{"name": "", "comparable_to_paper": true}',
                   help="the workflow config as JSON (name, comparable_to_paper)")
    p.add_argument("--out", required=True, help="PNG to write")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from ..data import build_dataset, build_eval_transform
    from ..reporting import figures
    from ..training.evaluation import load_trained_model

    if args.labels and len(args.labels) != len(args.weights):
        raise ValueError(f"--labels gives {len(args.labels)} labels for {len(args.weights)} --weights")
    config = json.loads(args.config)
    note = "" if config.get("comparable_to_paper") else f"config '{config['name']}': stand-in data, not comparable"
    stats = {}
    for i, weights in enumerate(args.weights):
        model, cfg = load_trained_model(weights)
        crop = cfg["recipe"].get("eval_crop_ratio", 1.0)
        data = build_dataset("imagenet1k", args.data_root, "val",
                             transform=build_eval_transform(cfg["img_size"], crop_ratio=crop))
        label = args.labels[i] if args.labels else cfg["model"]
        stats[label] = figures.saturation_stats(model, figures.sample_images(data, count=args.images))
        print(f"{label}: " + ", ".join("-" if s != s else f"{s:.3f}" for s in stats[label]["similarity"]))
    written = figures.attention_saturation(stats, Path(args.out), note)
    print(f"wrote {written}")
    return 0
