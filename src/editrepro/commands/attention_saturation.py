"""``editrepro attention-saturation``: LaViT's Fig. 3 for trained checkpoints and any timm ViT.

For every model, the cosine similarity of each layer's attention maps with the previous layer's
(per head, over the flattened map, averaged over heads and images: ``analysis.attention``, the measure
``attention-sink`` reports as saturation), on the same images, each resized and normalised for its own
model: the ImageNet-1k validation images of ``--data-root`` (the first of each class) or any folder of
JPEG / PNG files (``--images``). The models: checkpoints of ``editrepro train`` (``--weights``; DeiT III,
EDIT's encoder, PVTv2, LaViT) and a timm model (``--model NAME --pretrained | --checkpoint FILE``, loaded
by timm, with its own data config), drawn on one figure.
"""
import argparse

from ..analysis.sources import add_timm_arguments

HELP = "draw the attention-saturation figure (similarity of consecutive layers' attention)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", nargs="*", default=[], help="model.pth of each training job to compare")
    add_timm_arguments(p)
    p.add_argument("--labels", nargs="*", default=[],
                   help="one legend label per model: each --weights, then --model (default: the model)")
    p.add_argument("--data-root", help="an ImageNet-1k root: its val images, the first of each class")
    p.add_argument("--images", metavar="DIR", help="or a folder of JPEG / PNG images (searched recursively)")
    p.add_argument("--count", type=int, default=8, help="sample images (default 8)")
    p.add_argument("--json", metavar="FILE", help="also write each model's per-layer similarities as JSON")
    p.add_argument("--config", default='{"name": "", "comparable_to_paper": true}',
                   help="the workflow config: JSON text (name, comparable_to_paper), or a YAML / JSON config file")
    p.add_argument("--out", required=True, help="PNG to write")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from timm.data import create_transform

    from ..analysis.sources import load_images, load_timm_model, load_trained, timm_source
    from ..data import build_dataset
    from ..analysis.figures import sample_images, saturation_stats
    from ..fileio import atomic_write_text
    from ..reporting import figures
    from ..schema import config_arg

    source = timm_source(args)
    count = len(args.weights) + bool(source)
    if not count:
        raise ValueError("no model: give --weights FILE ... and/or --model NAME with --pretrained or --checkpoint")
    if args.labels and len(args.labels) != count:
        raise ValueError(f"--labels gives {len(args.labels)} labels for {count} models (--weights, then --model)")
    if bool(args.data_root) == bool(args.images):
        raise ValueError("give the images as --data-root (ImageNet-1k) or --images DIR (any folder), one of them")
    if args.images and args.images.isdigit() and not Path(args.images).is_dir():
        raise ValueError(f"--images is the folder of the images; their number is --count {args.images}")
    config = config_arg(args.config)
    note = "" if config.get("comparable_to_paper") else f"config '{config['name']}': stand-in data, not comparable"
    stats = {}
    loaders = [lambda w=w: load_trained(w) for w in args.weights]
    loaders += [lambda: load_timm_model(source)] if source else []
    for i, load in enumerate(loaders):
        loaded = load()
        if args.images:
            images, _ = load_images(args.images, loaded.data_config, args.count)
        else:
            data = build_dataset("imagenet1k", args.data_root, "val",
                                 transform=create_transform(**loaded.data_config, is_training=False))
            images = sample_images(data, count=args.count)
        label = args.labels[i] if args.labels else loaded.name
        stats[label] = saturation_stats(loaded.model, images)
        print(f"{label}: " + ", ".join("-" if s != s else f"{s:.3f}" for s in stats[label]["similarity"]))
    written = figures.attention_saturation(stats, Path(args.out), note)
    if args.json:
        atomic_write_text(args.json, json.dumps({label: {"similarity": [None if v != v else v for v in s["similarity"]],
                                                         "kinds": s["kinds"]} for label, s in stats.items()},
                                                indent=2) + "\n")
    print(f"wrote {written}")
    return 0
