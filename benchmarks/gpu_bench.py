"""What only a GPU shows: bf16 training throughput and MFU of EDIT against DeiT III, and peak memory.

Run by `benchmarks/gpu.sh` (which adds the data loader, LaViT against PVTv2 and a two-GPU DDP
check). Each part writes its figures into one JSON as soon as it is measured, so a part that runs
out of time leaves the others.

1. ``throughput``: training images/s (forward, BCE, backward, LAMB: the paper's recipe) of DeiT3-S/B,
   EDIT-S/B and EDIT-S/B with the reassociated decoder, bf16 autocast at 224 px, eager and
   ``torch.compile``; the ratio to DeiT III of the same size and the model FLOP utilisation against
   the GPU's dense bf16 peak (training FLOPs = 3 x 2 x forward MACs, counted like Table 1).
2. ``memory``: peak allocated memory of one training step of EDIT-B and DeiT3-B at per-device batch
   64, at 224 and 384 px, with and without activation checkpointing.

    python benchmarks/gpu_bench.py --out benchmarks/results/gpu.json [--parts eager memory compile]
"""
import argparse
import json
from pathlib import Path

import timm
import torch
from timm.loss import BinaryCrossEntropy
from timm.optim import create_optimizer_v2

import editrepro.models  # noqa: F401  (registers the models with timm)
from editrepro.models.complexity import count_complexity
from timing import median_seconds

# dense bf16 peak TFLOP/s by the name the driver reports (NVIDIA data sheets, without sparsity)
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "L40": 181.0, "A10": 125.0,
                    "RTX 4090": 165.0, "RTX 6000 Ada": 364.0, "RTX A6000": 155.0, "V100": 125.0}
MODELS = {
    "DeiT3-S": ("deit3_ref_small_patch16_224", {}),
    "EDIT-S": ("edit_small_patch16_224", {}),
    "EDIT-S reassociated": ("edit_small_patch16_224", {"decoder_reassociate": True}),
    "DeiT3-B": ("deit3_ref_base_patch16_224", {}),
    "EDIT-B": ("edit_base_patch16_224", {}),
    "EDIT-B reassociated": ("edit_base_patch16_224", {"decoder_reassociate": True}),
}


def peak_tflops(name: str, override):
    if override:
        return float(override)
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k.lower() in name.lower()), None)


def write(out: Path, results: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2))
    tmp.replace(out)


def train_step(model, batch: int, img_size: int, device):
    x = torch.randn(batch, 3, img_size, img_size, device=device)
    y = torch.randint(0, 1000, (batch,), device=device)
    loss_fn = BinaryCrossEntropy(smoothing=0.0, target_threshold=0.0)
    opt = create_optimizer_v2(model, opt="lamb", lr=1e-3, weight_decay=0.02)

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step


def throughput(results: dict, out: Path, batch: int, steps: int, rounds: int, peak, compiled: bool) -> None:
    device = torch.device("cuda")
    part = results.setdefault("throughput", {"img_size": 224, "batch": batch, "amp": "bf16", "models": {}})
    for compiled in (compiled,):
        mode = "compile" if compiled else "eager"
        runners = {}
        for label, (name, kw) in MODELS.items():
            model = timm.create_model(name, drop_path_rate=0.05, **kw).to(device).train()
            net = torch.compile(model) if compiled else model
            step = train_step(net, batch, 224, device)
            for _ in range(3):           # warm-up (and compilation)
                step()
            runners[label] = step
        rates = {label: batch / s for label, s in median_seconds(runners, rounds, steps).items()}
        for label, (name, kw) in MODELS.items():
            ips = rates[label]
            base = rates["DeiT3-" + label.split("-")[1][0]]
            flops = 3 * 2 * count_complexity(name, **kw).gmacs * 1e9        # per training image
            part["models"].setdefault(label, {})[mode] = {
                "images_per_sec": ips, "ratio_to_deit3": ips / base,
                "mfu": ips * flops / (peak * 1e12) if peak else None}
        del runners
        torch.cuda.empty_cache()
        write(out, results)
        if not compiled:   # the file `editrepro cost` reads for measured GPU-hours (train_throughput.py's layout)
            write(out.with_name(f"train_throughput_{out.stem}.json"),
                  {"device": results["device"], "img_size": 224, "batch": batch, "amp": "bf16",
                   "models": {k: {"images_per_sec": v["eager"]["images_per_sec"]} for k, v in part["models"].items()}})


def memory(results: dict, out: Path) -> None:
    device = torch.device("cuda")
    part = results.setdefault("memory", {"batch": 64, "amp": "bf16", "peak_gb": {}})
    for label, name in (("DeiT3-B", "deit3_ref_base_patch16"), ("EDIT-B", "edit_base_patch16")):
        for size in (224, 384):
            for ckpt in (False, True):
                torch.cuda.empty_cache()
                model = timm.create_model(f"{name}_{size}").to(device).train()
                model.set_grad_checkpointing(ckpt)
                step = train_step(model, 64, size, device)
                step()
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats(device)
                step()
                torch.cuda.synchronize()
                key = f"{label} {size}px" + (" grad checkpointing" if ckpt else "")
                part["peak_gb"][key] = torch.cuda.max_memory_allocated(device) / 2**30
                del model, step
                write(out, results)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="benchmarks/results/gpu.json")
    p.add_argument("--parts", nargs="+", default=["eager", "memory", "compile"], choices=["eager", "memory", "compile"],
                   help="in this order: eager throughput, peak memory, compiled throughput (compiling takes longest)")
    p.add_argument("--batch", type=int, default=128, help="per-GPU batch of the throughput part")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--peak-tflops", type=float, default=None, help="dense bf16 peak (default: looked up by name)")
    args = p.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("gpu_bench.py needs a CUDA GPU (torch.cuda.is_available() is False)")
    torch.backends.cuda.matmul.allow_tf32 = True
    name = torch.cuda.get_device_name(0)
    peak = peak_tflops(name, args.peak_tflops)
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.is_file() else {}
    results.update(device=name, gpus=torch.cuda.device_count(), peak_bf16_tflops=peak, torch=torch.__version__,
                   cuda=torch.version.cuda, timm=timm.__version__)
    write(out, results)
    for part in args.parts:
        if part == "memory":
            memory(results, out)
        else:
            throughput(results, out, args.batch, args.steps, args.rounds, peak, compiled=part == "compile")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
