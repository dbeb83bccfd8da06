"""Where LaViT's speed comes from, measured side by side in one run.

1. Training throughput (forward + backward + AdamW step) of LaViT-S against the PVTv2 it modifies:
   the same pyramid with every layer a VA layer (``num_va=depths``, same widths and MLP ratio), and
   timm's ``pvt_v2_b2`` (MLP ratios 8/8/4/4) for reference. Each round times every model in turn on
   the same batch, so drifts of the machine hit all alike; the median over rounds is reported.
2. One LA layer against one VA layer (forward + backward of a whole block) at each stage's token
   count and width, at the benchmark's image size; also the LA layer with keys-only transforms
   (``la_query_mix="none"``), the form the N x N query map would need in stages 1 and 2.

    python benchmarks/lavit_throughput.py                         # CPU: batch 8, fp32
    python benchmarks/lavit_throughput.py --batch 128 --amp bf16  # GPU
"""
import argparse
import json
import platform

import timm
import torch
from timm.optim import create_optimizer_v2

import editrepro.models  # noqa: F401  (registers the models with timm)
from editrepro.models.lavit import LABlock, VABlock
from timing import add_run_arguments, median_seconds, run_of

SMALL_DEPTHS = (3, 4, 6, 3)
CANDIDATES = {
    "LaViT-S": ("lavit_small_224", {}),
    "LaViT-S all VA (the PVTv2 it modifies)": ("lavit_small_224", {"num_va": SMALL_DEPTHS}),
    "PVTv2-b2 (timm)": ("pvt_v2_b2", {}),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(p, gpu_batch=128, cpu_batch=8)
    args = p.parse_args()
    run = run_of(args)
    cuda, device, batch, steps, amp, autocast = run.cuda, run.device, run.batch, run.steps, run.amp, run.autocast
    torch.manual_seed(0)

    x = torch.randn(batch, 3, args.img_size, args.img_size, device=device)
    y = torch.randint(0, 1000, (batch,), device=device)
    models = {}
    for label, (name, kw) in CANDIDATES.items():
        kw = dict(kw, img_size=args.img_size) if name.startswith("lavit") else kw
        model = timm.create_model(name, drop_path_rate=0.1, **kw).to(device).train()
        opt = create_optimizer_v2(model, opt="adamw", lr=1e-3, weight_decay=0.05)

        def step(model=model, opt=opt):
            with autocast():
                loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        step()
        models[label] = step
    per_step = median_seconds(models, args.rounds, steps)
    base = per_step["LaViT-S all VA (the PVTv2 it modifies)"]
    results = {"models": {label: {"images_per_sec": batch / t, "ratio_to_all_va": base / t}
                          for label, t in per_step.items()}}

    # one block of each kind at each stage's grid and width (LaViT-S: widths 64/128/320/512, heads 1/2/5/8)
    layers = {}
    widths, heads, srs = (64, 128, 320, 512), (1, 2, 5, 8), (8, 4, 2, 1)
    for i, (dim, h, sr) in enumerate(zip(widths, heads, srs)):
        H = args.img_size // (4 * 2 ** i)
        grid, K = (H, H), (H // sr) ** 2
        va = VABlock(dim, h, sr_ratio=sr).to(device)
        la = LABlock(dim, h, grid, sr_ratio=sr).to(device)
        keys_only = LABlock(dim, h, grid, sr_ratio=sr, query_mix="none").to(device)
        tokens = torch.randn(batch, H * H, dim, device=device, requires_grad=True)
        prev = torch.randn(batch, h, H * H, K, device=device)

        def va_step(va=va, tokens=tokens, grid=grid):
            with autocast():
                out, logits = va(tokens, grid, return_logits=True)   # as the last VA layer before LA layers
            (out.float().mean() + logits.float().mean()).backward()

        def la_step(la=la, tokens=tokens, grid=grid, prev=prev):
            with autocast():
                out, logits, _ = la(tokens, grid, prev)
            (out.float().mean() + logits.float().mean()).backward()

        def keys_step(la=keys_only, tokens=tokens, grid=grid, prev=prev):
            la_step(la, tokens, grid, prev)

        va_step(), la_step(), keys_step()
        t = median_seconds({"VA": va_step, "LA": la_step, "keys": keys_step}, args.rounds, steps)
        layers[f"stage {i + 1}"] = {"tokens": H * H, "keys": K, "width": dim, "va_ms": 1e3 * t["VA"],
                                    "la_ms": 1e3 * t["LA"], "la_over_va": t["LA"] / t["VA"],
                                    "la_keys_only_ms": 1e3 * t["keys"], "keys_only_over_va": t["keys"] / t["VA"]}

    device_name = torch.cuda.get_device_name(device) if cuda else f"cpu ({platform.processor() or platform.machine()})"
    results.update(layers=layers, device=device_name, img_size=args.img_size, batch=batch, amp=amp,
                   torch=torch.__version__)
    print(f"{device_name}, {args.img_size} px, batch {batch}, {'bf16' if amp else 'fp32'}, {args.rounds} rounds")
    print("\n| model | images/s (fwd+bwd+AdamW) | vs all VA |\n| --- | --- | --- |")
    for label, m in results["models"].items():
        print(f"| {label} | {m['images_per_sec']:.1f} | {m['ratio_to_all_va']:.3f} |")
    print("\n| stage | tokens x keys | width | VA block (ms) | LA block (ms) | LA / VA | LA keys only / VA |\n"
          "| --- | --- | --- | --- | --- | --- | --- |")
    for stage, v in layers.items():
        print(f"| {stage} | {v['tokens']} x {v['keys']} | {v['width']} | {v['va_ms']:.2f} | {v['la_ms']:.2f} | "
              f"{v['la_over_va']:.3f} | {v['keys_only_over_va']:.3f} |")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
