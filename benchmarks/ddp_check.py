"""On two GPUs: a DDP training job matches one GPU's with the same effective batch.

Trains a small EDIT-T (2 blocks, 32 px) for two epochs on synthetic class prototypes, once on one GPU
(per-device batch 32) and once under torchrun on two (16 each), fp32, and compares the final weights
and validation metrics. Writes the largest weight difference and the verdict as JSON.

    python benchmarks/ddp_check.py --out benchmarks/results/ddp_check.json
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from torch.utils.data import Dataset

REPO = Path(__file__).resolve().parents[1]


class Prototypes(Dataset):
    """Four class prototypes, each sample its prototype (no noise: the two runs see the same data)."""

    def __init__(self, n: int, seed: int = 0):
        self.protos = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(123))
        self.labels = torch.randint(0, 4, (n,), generator=torch.Generator().manual_seed(seed))
        self.num_classes = 4

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.protos[self.labels[i]], int(self.labels[i])


def job(out: str, per_device: int):
    from editrepro.recipes import DataConfig, TrainConfig, load_recipe

    recipe = load_recipe(REPO / "config/recipes/in1k_pretrain.yaml",
                         dict(epochs=2, batch_size=32, warmup_epochs=1, lr=2e-3, repeated_aug=False, mixup=0.0,
                              cutmix=0.0, loss="ce", drop_path=0.0))
    return TrainConfig(model="edit_tiny_patch16_224", img_size=32, model_kwargs=dict(depth=2), recipe=recipe,
                       data=DataConfig(name="synthetic", root="-", num_workers=0), output_dir=out,
                       per_device_batch=per_device, device="cuda", amp="off", experiment="ddp_check")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(REPO / "benchmarks/results/ddp_check.json"))
    p.add_argument("--worker", nargs=2, metavar=("OUTPUT_DIR", "PER_DEVICE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        from editrepro.training.trainer import train

        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
        train(job(args.worker[0], int(args.worker[1])), datasets=(Prototypes(128), Prototypes(64, seed=1)))
        return
    if torch.cuda.device_count() < 2:
        raise SystemExit("ddp_check.py needs two GPUs")
    from editrepro.training.checkpoint import load_checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"}
        single, ddp = f"{tmp}/single", f"{tmp}/ddp"
        subprocess.run([sys.executable, __file__, "--worker", single, "32"], check=True, env=env,
                       cwd=REPO, timeout=300)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={port}",
                        __file__, "--worker", ddp, "16"], check=True, env=env, cwd=REPO, timeout=300)
        a, b = (load_checkpoint(Path(d) / "model.pth")["model"] for d in (single, ddp))
        diff = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
        m1, m2 = (json.loads((Path(d) / "metrics.json").read_text()) for d in (single, ddp))
    result = {"device": torch.cuda.get_device_name(0), "gpus": 2, "max_weight_diff": diff,
              "top1": [m1["top1"], m2["top1"]], "val_loss": [m1["val_loss"], m2["val_loss"]],
              "devices": [m1["devices"], m2["devices"]], "matches": diff < 1e-3 and abs(m1["top1"] - m2["top1"]) < 1e-6}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    if not result["matches"]:
        raise SystemExit("two-GPU DDP does not match one GPU")


if __name__ == "__main__":
    main()
