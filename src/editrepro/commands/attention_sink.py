"""``editrepro attention-sink``: the paper's Fig. 1 for any timm ViT, published or trained here.

For every layer: the mean attention each query pays to [CLS] and to an average other token, their ratio, the
attention to an average patch and the share of attention mass on the prefix tokens (class and register
tokens, ``model.num_prefix_tokens``); the similarity of consecutive layers' maps (LaViT's saturation). For
EDIT, also its decoder's view: the weight of its [CLS] query on its own previous state and on an average patch.
Writes into ``--out``: ``attention_sink.csv`` (one row per layer), ``attention_sink.json`` (the summary, with
the model's **sink score**: the mean over layers of [CLS]'s attention relative to an average patch, or EDIT's
decoder's), ``corners.npy`` (the top-left 16 x 16 of every layer's map, mean over images and heads),
``fig1a_attention_sink.png``, ``fig1b_attention_corners.png`` and ``attention_saturation.png``.

The model: ``--model NAME --pretrained`` (timm's weights: the Hugging Face cache, or the hub with network),
``--model NAME --checkpoint FILE`` (a local file timm loads: ``pretrained_cfg_overlay=dict(file=FILE)``), or
``--weights model.pth`` of ``editrepro train``. The images: any folder of JPEG / PNG files (a class-folder
tree gives one per class first), resized and normalised with the model's own data config (timm's
``resolve_data_config`` / ``create_transform``; a training job's resolution and crop).
"""
import argparse

from ..analysis.sources import add_timm_arguments

HELP = "measure the attention sink of any timm ViT (paper Fig. 1): per-layer [CLS] attention, sink score"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_timm_arguments(p)
    p.add_argument("--weights", metavar="FILE", help="model.pth of an editrepro training job (instead of --model)")
    p.add_argument("--images", required=True, metavar="DIR", help="folder of JPEG / PNG images (searched recursively)")
    p.add_argument("--count", type=int, default=8, help="images to use (default 8)")
    p.add_argument("--label", help="the model's name in the figures and summary (default: the model)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    p.add_argument("--note", default="", help="a line added to the figures' titles")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write the CSV, JSON and figures into")


def load_source(args: argparse.Namespace, device: str):
    """The model the arguments name: a timm model (--model) or a training job (--weights), not both."""
    from ..analysis.sources import load_timm_model, load_trained, timm_source

    source = timm_source(args)
    weights = getattr(args, "weights", None)
    if source and weights:
        raise ValueError("give either --model NAME (with --pretrained or --checkpoint) or --weights FILE, not both")
    if source:
        return load_timm_model(source, device)
    if weights:
        return load_trained(weights, device)
    raise ValueError("which model? give --model NAME with --pretrained or --checkpoint FILE, or --weights FILE")


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is visible")
    return device


def run(args: argparse.Namespace) -> int:
    import csv
    import json
    from pathlib import Path

    import numpy as np

    from ..analysis import plots
    from ..analysis.attention import attention_summary, per_layer_rows
    from ..analysis.sources import load_images
    from ..fileio import atomic_path, atomic_write_text
    from ..reporting import figures
    from ..reporting.attention_report import claim_verdict

    loaded = load_source(args, resolve_device(args.device))
    label = args.label or loaded.name
    images, files = load_images(args.images, loaded.data_config, args.count)
    summary = attention_summary(loaded.model, images, batch_size=args.batch_size, name=loaded.name)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    rows = per_layer_rows(summary)
    with atomic_path(out / "attention_sink.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in r.items()} for r in rows)
    with atomic_path(out / "corners.npy") as tmp:
        with open(tmp, "wb") as f:
            np.save(f, summary.corners)
    note = args.note
    fig_names = {"fig1a": "fig1a_attention_sink.png", "fig1b": "fig1b_attention_corners.png",
                 "saturation": "attention_saturation.png"}
    plots.sink_curves(summary, out / fig_names["fig1a"], label, note)
    plots.corner_maps(summary, out / fig_names["fig1b"], label, note)
    figures.attention_saturation({label: {"similarity": list(summary.layers["similarity"][1:]),
                                          "kinds": summary.kinds}}, out / fig_names["saturation"], note)

    def clean(values):
        return [None if np.isnan(v) else float(v) for v in values]

    result = {
        "label": label, "model": loaded.name, "source": loaded.source, "path": loaded.path,
        "description": loaded.description, "images": summary.images, "image_folder": str(args.images),
        "image_files": [str(f) for f in files],
        "data_config": {k: list(v) if isinstance(v, tuple) else v for k, v in loaded.data_config.items()},
        "depth": summary.depth, "kinds": summary.kinds, "prefix_tokens": summary.prefix_tokens,
        "has_cls": summary.has_cls, "sink_view": summary.sink_view or None, "sink_score": summary.sink_score,
        "saturation": summary.saturation,
        "claim": claim_verdict(summary.layers["cls_ratio"]) if summary.has_cls else None,
        "per_layer": {k: clean(v) for k, v in summary.layers.items()},
        "csv": "attention_sink.csv", "corners": "corners.npy", "figures": fig_names,
    }
    atomic_write_text(out / "attention_sink.json", json.dumps(result, indent=2) + "\n")
    score = "-" if summary.sink_score is None else f"{summary.sink_score:.3f}"
    sat = "-" if summary.saturation is None else f"{summary.saturation:.3f}"
    print(f"{label}: sink score {score} ({summary.sink_view or 'no [CLS]'}), saturation {sat}, "
          f"{summary.depth} layers, {summary.images} images, {summary.prefix_tokens} prefix tokens")
    if summary.has_cls:
        c = result["claim"]
        print("[CLS] / other token per layer: " + ", ".join(f"{v:.2f}" for v in summary.layers["cls_ratio"])
              + f"; above {c['threshold']:g} in {c['above']} of {c['layers']} layers ({c['verdict']})")
    print(f"wrote {out}/attention_sink.json, attention_sink.csv, corners.npy and the figures")
    return 0
