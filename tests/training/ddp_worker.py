"""Run by tests under torchrun (or alone): one small deterministic job; argv: output_dir per_device_batch."""
import sys

from synthetic import Synthetic, job

from editrepro.training.trainer import train

out, per_device = sys.argv[1], int(sys.argv[2])
cfg = job(out, epochs=2, batch_size=16, per_device_batch=per_device, mixup=0.0, cutmix=0.0, loss="ce", drop_path=0.0)
train(cfg, datasets=(Synthetic(64, noise=0.0), Synthetic(30, seed=1, noise=0.0)))
