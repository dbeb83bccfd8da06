"""Run by tests under torchrun (or alone): small deterministic jobs; argv: output_dir per_device_batch [model ...].

Without a model: EDIT's job in output_dir. With models (`edit`, `lavit`): each one's job in output_dir/<model>, one
after the other in this process (the process group is joined once), so a test pays the start-up once for both."""
import sys
from pathlib import Path

from synthetic import LAVIT_SIZE, Synthetic, job, lavit_job

from editrepro.training.trainer import train


def run(out, per_device: int, model: str) -> None:
    if model == "lavit":   # LaViT with its DP loss: the auxiliary term is synchronised like the task loss
        # narrow (a quarter of LaViT-S's widths) but every path: LA layers in stages 3-4, several heads there
        cfg = lavit_job(out, epochs=2, batch_size=16, per_device_batch=per_device, loss="ce", label_smoothing=0.0,
                        model_kwargs=dict(depths=[1, 1, 2, 2], embed_dims=[16, 32, 64, 128], num_heads=[1, 2, 2, 4]))
        size = LAVIT_SIZE
    elif model == "edit":
        cfg = job(out, epochs=2, batch_size=16, per_device_batch=per_device, mixup=0.0, cutmix=0.0, loss="ce",
                  drop_path=0.0)
        size = 32
    else:
        raise SystemExit(f"ddp_worker.py: unknown model {model!r}; expected 'edit' or 'lavit'")
    train(cfg, datasets=(Synthetic(64, size=size, noise=0.0), Synthetic(30, size=size, seed=1, noise=0.0)))


out, per_device, models = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
if not models:
    run(out, per_device, "edit")
for model in models:
    run(str(Path(out) / model), per_device, model)
