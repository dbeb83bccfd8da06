"""``reports/attention_sink.md`` and ``reports/calibration.md``: the attention analyses of every model the config
lists under ``attention.models`` (timm's published weights, checkpoint files, the pipeline's own models), and the
pipeline's ImageNet-1k top-1 of the timm ones against the published figure. Light: JSON in, markdown out.
"""
import math
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ..schema import read_json
from .markdown import fmt, page_header

__all__ = ["CLAIM", "claim_verdict", "render_attention_sink", "render_calibration", "read_summaries"]

CLAIM = 10.0   # Fig. 1's text: [CLS] receives "more than 10 times" the attention of other tokens

MEASURES = (
    "**Sink score**: the mean over layers of the attention [CLS] receives relative to an average patch (means over "
    "images, heads and every query); for EDIT, whose encoder has no [CLS], its decoder's view: the weight its "
    "[CLS] query puts on its own previous state relative to an average patch. "
    "**[CLS] > 10x**: in how many layers [CLS] receives more than 10 times the attention of an average other token "
    "(the paper's Fig. 1 claim). **Prefix share**: the attention mass on the class and register tokens, mean over "
    "layers. **Saturation**: the mean cosine similarity of each layer's attention maps with the previous layer's "
    "(per head, flattened maps, LaViT's Fig. 3; a pyramid's stage boundaries left out). Fig. 1a: the per-layer "
    "curves; Fig. 1b: the top-left 16 x 16 corner of every layer's map; the per-layer numbers are in each "
    "model's CSV."
)


def _finite(values: Sequence[Optional[float]]) -> List[float]:
    return [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]


def claim_verdict(ratios: Sequence[Optional[float]], threshold: float = CLAIM) -> Dict[str, Any]:
    """Whether [CLS]'s ratio exceeds ``threshold``: in ``every layer``, ``most layers`` (more than half),
    ``some layers`` or ``no layer``; with the count of layers above it."""
    values = _finite(ratios)
    above = sum(v > threshold for v in values)
    if not values:
        verdict = "not measured"
    elif above == len(values):
        verdict = "every layer"
    elif above > len(values) / 2:
        verdict = "most layers"
    elif above:
        verdict = "some layers"
    else:
        verdict = "no layer"
    return {"threshold": threshold, "layers": len(values), "above": above, "verdict": verdict}


def read_summaries(paths: Sequence[str]) -> List[Dict[str, Any]]:
    """The ``attention_sink.json`` of each model, each with ``_dir``: the folder it was read from."""
    out = []
    for p in paths:
        summary = read_json(p)
        summary["_dir"] = str(Path(p).parent)
        out.append(summary)
    return out


def _link(summary: Dict[str, Any], key: str, text: str, out: Path) -> str:
    file = (summary.get("figures") or {}).get(key)
    if not file:
        return ""
    return f"[{text}]({os.path.relpath(Path(summary['_dir']) / file, out.parent)})"


def _weights(summary: Dict[str, Any]) -> str:
    source = summary.get("source")
    if source == "pretrained":
        return f"timm `{summary['model']}`, pretrained"
    if source == "checkpoint":
        return f"timm `{summary['model']}`, checkpoint `{summary.get('path')}`"
    return f"`{summary['model']}`, trained here (`{summary.get('path')}`)"


def _mean(values) -> Optional[float]:
    v = _finite(values or [])
    return sum(v) / len(v) if v else None


def _claim_cell(summary: Dict[str, Any]) -> str:
    if not summary.get("has_cls"):
        return "no [CLS] in the encoder"
    c = claim_verdict(summary["per_layer"]["cls_ratio"])
    return f"{c['above']} of {c['layers']} ({c['verdict']})"


def _ratio_row(values: Sequence[Optional[float]]) -> List[str]:
    return ["–" if v is None else f"{v:.1f}" for v in values]


def render_attention_sink(summaries: List[Dict[str, Any]], config: Dict[str, Any], out: Path,
                          commit: Optional[str] = None) -> str:
    """The page: one row per model, the paper's claim per DeiT III layer, EDIT's two views."""
    out = Path(out)
    lines = page_header("Attention sink and saturation, per model", "snakemake attention_sink", commit, config,
                        "Here the pipeline's models are the demo's reduced ones and a timm model listed with a "
                        "checkpoint file of random weights stands in for published ones: the numbers show the "
                        "analysis runs, not what the papers measured.")
    lines += [MEASURES, ""]
    header = ["model", "weights", "images", "prefix tokens", "sink score", "view", "[CLS] > 10x", "prefix share",
              "saturation", "figures"]
    rows = []
    for s in summaries:
        figures = " · ".join(x for x in (_link(s, "fig1a", "Fig. 1a", out), _link(s, "fig1b", "Fig. 1b", out),
                                         _link(s, "saturation", "saturation", out),
                                         f"[CSV]({os.path.relpath(Path(s['_dir']) / s['csv'], out.parent)})"
                                         if s.get("csv") else "") if x)
        view = {"encoder": "encoder [CLS]", "decoder": "EDIT decoder"}.get(s.get("sink_view") or "", "–")
        rows.append([s["label"], _weights(s), str(s["images"]), str(s["prefix_tokens"]), fmt(s.get("sink_score")),
                     view, _claim_cell(s), fmt(_mean(s["per_layer"].get("prefix_share")), 3) if s["prefix_tokens"]
                     else "–", fmt(s.get("saturation"), 3), figures])
    lines += _table(header, rows) + [""]

    with_cls = [s for s in summaries if s.get("has_cls")]
    lines += ["## The paper's claim: [CLS] receives \"more than 10 times\" the attention of other tokens", ""]
    if not with_cls:
        lines += ["No model listed has a [CLS] token in its encoder.", ""]
    else:
        lines += ["Measured per layer: the attention [CLS] receives over that of an average other token (means over "
                  "images, heads and queries). The paper measured Fig. 1 on timm's `deit3_small_patch16_224.fb_in1k` "
                  "and `deit3_base_patch16_224.fb_in1k`.", ""]
        depth = max(len(s["per_layer"]["cls_ratio"]) for s in with_cls)
        rows = [[s["label"], *_ratio_row(r := s["per_layer"]["cls_ratio"]), *[""] * (depth - len(r)),
                 claim_verdict(r)["verdict"]] for s in with_cls]
        lines += _table(["model", *[f"L{i + 1}" for i in range(depth)], "above 10 in"], rows) + [""]
        for s in with_cls:
            if "deit3" not in str(s["model"]).lower():
                continue
            c = claim_verdict(s["per_layer"]["cls_ratio"])
            span = {"every layer": "in every layer", "most layers": f"in most layers ({c['above']} of {c['layers']})",
                    "some layers": f"in only {c['above']} of {c['layers']} layers", "no layer": "in no layer"}
            ratios = _finite(s["per_layer"]["cls_ratio"])
            lines += [f"- **{s['label']}** ({_weights(s)}): [CLS]'s ratio exceeds 10 {span.get(c['verdict'], '')}"
                      + (f"; it ranges from {min(ratios):.1f} to {max(ratios):.1f}." if ratios else ".")]
        lines += [""]

    edits = [s for s in summaries if s.get("sink_view") == "decoder"]
    if edits:
        lines += ["## EDIT: the decoder's view and the encoder's", "",
                  "The decoder: the weight EDIT's [CLS] query puts on its own previous state over that on an average "
                  "patch, per layer (its sink score is their mean). The encoder (patches only): the share of the "
                  "most-attended token.", ""]
        depth = max(len(s["per_layer"]["dec_ratio"]) for s in edits)
        rows = []
        for s in edits:
            rows.append([s["label"], "decoder: own state / patch", *_ratio_row(s["per_layer"]["dec_ratio"])])
            rows.append([s["label"], "encoder: top share", *[fmt(v, 3) for v in s["per_layer"]["top_share"]]])
        lines += _table(["model", "view", *[f"L{i + 1}" for i in range(depth)]], rows) + [""]
    return "\n".join(lines)


def _table(header: List[str], rows: List[List[str]]) -> List[str]:
    from tabulate import tabulate

    return [tabulate(rows, headers=header, tablefmt="github", disable_numparse=True)]


def render_calibration(evaluations: List[Dict[str, Any]], published: Dict[str, Optional[float]],
                       config: Dict[str, Any], commit: Optional[str] = None) -> str:
    """Published against measured ImageNet-1k top-1 of each timm model, with the data config it was measured at."""
    lines = page_header("Calibration: the pipeline's ImageNet-1k evaluation of published weights",
                        "snakemake calibrate", commit, config,
                        "The demo's timm models are checkpoint files of random weights on the demo's stand-in "
                        "ImageNet-1k: their top-1 is chance level and nothing is published for them; the table shows "
                        "the evaluation runs end to end.")
    lines += ["`editrepro evaluate --model NAME --pretrained | --checkpoint FILE` scores timm's model with the "
              "pipeline's evaluation loop and data reader, at the model's own pretrained data config (timm's "
              "`resolve_data_config`: input size, crop, interpolation, mean and std), in float32. Published: timm's "
              "`results/results-imagenet.csv` (huggingface/pytorch-image-models), as the config's "
              "`attention.models[].published_top1` gives it. A measured top-1 within about 0.1 point of it says the "
              "pipeline's ImageNet-1k numbers for EDIT can be trusted as far as evaluation goes.", ""]
    header = ["model", "weights", "images", "crop", "top-1 measured", "top-1 published", "Δ"]
    rows = []
    for e in evaluations:
        label = (e.get("tags") or {}).get("name") or e["model"]
        pub = published.get(label)
        dc = e.get("data_config") or {}
        crop = f"{dc.get('input_size', ['', '?'])[1]} px, {dc.get('crop_pct', '?')}" if dc else "–"
        delta = None if pub is None else e["top1"] - pub
        rows.append([label, e.get("weights", ""), str(e.get("n", "")), crop, fmt(e["top1"]), fmt(pub),
                     "–" if delta is None else f"{delta:+.2f}"])
    lines += _table(header, rows) + [""]
    return "\n".join(lines)
