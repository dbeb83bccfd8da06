"""Training throughput of EDIT against DeiT III, measured side by side in one run.

Each round times a few optimizer steps (forward, BCE loss, backward, LAMB) of every model
in turn on the same synthetic batch, so drifts of the machine hit all models alike; the
median images/s over rounds is reported with its ratio to DeiT III. EDIT costs 1.15x the
FLOPs of DeiT3-S in the paper's form; the goal is EDIT >= 0.85x DeiT III's throughput.

    python benchmarks/train_throughput.py                       # CPU: small batch, fp32
    python benchmarks/train_throughput.py --batch 256 --amp bf16  # GPU
"""
import argparse
import json
import platform
import statistics

import timm
import torch
from timm.loss import BinaryCrossEntropy
from timm.optim import create_optimizer_v2

import editrepro.models  # noqa: F401  (registers the models with timm)
from timing import add_run_arguments, interleaved, run_of

CANDIDATES = {
    "DeiT3-S": ("deit3_ref_small_patch16_224", {}),
    "EDIT-S": ("edit_small_patch16_224", {}),
    "EDIT-S reassociated": ("edit_small_patch16_224", {"decoder_reassociate": True}),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_arguments(p, gpu_batch=256, cpu_batch=16)
    p.add_argument("--compile", action="store_true")
    args = p.parse_args()
    run = run_of(args)
    cuda, device, batch, steps, amp = run.cuda, run.device, run.batch, run.steps, run.amp
    torch.manual_seed(0)
    x = torch.randn(batch, 3, args.img_size, args.img_size, device=device)
    y = torch.randint(0, 1000, (batch,), device=device)
    loss_fn = BinaryCrossEntropy(smoothing=0.0, target_threshold=0.0)

    runners = {}
    for label, (name, kw) in CANDIDATES.items():
        model = timm.create_model(name, img_size=args.img_size, drop_path_rate=0.05, **kw).to(device).train()
        opt = create_optimizer_v2(model, opt="lamb", lr=1e-3, weight_decay=0.02)
        net = torch.compile(model) if args.compile else model

        def step(net=net, opt=opt):
            with run.autocast():
                loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        step()  # warm-up (and compilation)
        runners[label] = step

    rates = {label: [batch / s for s in seconds] for label, seconds in interleaved(runners, args.rounds, steps).items()}

    base = statistics.median(rates["DeiT3-S"])
    device_name = torch.cuda.get_device_name() if cuda else f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"
    print(f"device: {device_name}; img {args.img_size}, batch {batch}, {'bf16' if amp else 'fp32'}, "
          f"{args.rounds} rounds x {steps} steps, compile={args.compile}")
    result = {"device": device_name, "img_size": args.img_size, "batch": batch, "amp": "bf16" if amp else "fp32",
              "compile": args.compile, "models": {}}
    for label, r in rates.items():
        med = statistics.median(r)
        print(f"{label:22s} {med:9.1f} img/s   ratio to DeiT3-S {med / base:.3f}   (min {min(r):.1f}, max {max(r):.1f})")
        result["models"][label] = {"images_per_sec": med, "ratio_to_deit3": med / base, "all": r}
    if cuda:
        print(f"peak memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB (all models)")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
