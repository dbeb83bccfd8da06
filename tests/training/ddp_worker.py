"""Run by tests under torchrun (or alone): one small deterministic job; argv: output_dir per_device_batch [lavit]."""
import sys

from synthetic import LAVIT_SIZE, Synthetic, job, lavit_job

from editrepro.training.trainer import train

out, per_device = sys.argv[1], int(sys.argv[2])
if sys.argv[3:] == ["lavit"]:   # LaViT with its DP loss: the auxiliary term is synchronised like the task loss
    cfg = lavit_job(out, epochs=2, batch_size=16, per_device_batch=per_device, loss="ce", label_smoothing=0.0)
    size = LAVIT_SIZE
else:
    cfg = job(out, epochs=2, batch_size=16, per_device_batch=per_device, mixup=0.0, cutmix=0.0, loss="ce",
              drop_path=0.0)
    size = 32
train(cfg, datasets=(Synthetic(64, size=size, noise=0.0), Synthetic(30, size=size, seed=1, noise=0.0)))
