"""A tiny learnable image-classification set and a job config around it, for engine tests."""
import os
import signal
from typing import Optional

import torch
from torch.utils.data import Dataset

from editrepro.recipes import DataConfig, TrainConfig, load_recipe


class Synthetic(Dataset):
    """Class prototypes plus noise. ``noise`` draws from the global RNG (seeded per sample by the engine)."""

    def __init__(self, n: int, num_classes: int = 4, size: int = 32, seed: int = 0, noise: float = 0.8,
                 poison_from_epoch: Optional[int] = None, signal_at: Optional[int] = None,
                 kill_at: Optional[int] = None):
        self.protos = torch.randn(num_classes, 3, size, size, generator=torch.Generator().manual_seed(123))
        self.labels = torch.randint(0, num_classes, (n,), generator=torch.Generator().manual_seed(seed))
        self.num_classes, self.noise = num_classes, noise
        self.calls = 0
        self.poison_after, self.signal_at, self.kill_at = poison_from_epoch, signal_at, kill_at

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        self.calls += 1
        if self.signal_at is not None and self.calls == self.signal_at:
            os.kill(os.getpid(), signal.SIGUSR1)   # what Slurm sends before the time limit
        if self.kill_at is not None and self.calls == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)   # node loss, the OOM killer: nothing runs after it
        y = int(self.labels[i])
        x = self.protos[y] + (self.noise * torch.randn(self.protos[y].shape) if self.noise else 0)
        if self.poison_after is not None and self.calls > self.poison_after:
            x = x * float("inf")
        return x, y


def job(output_dir, epochs=2, batch_size=16, per_device_batch=None, depth=2, model="edit_tiny_patch16_224",
        checkpoint_every=None, grad_checkpointing=False, **recipe_overrides) -> TrainConfig:
    overrides = dict(epochs=epochs, batch_size=batch_size, warmup_epochs=1, lr=2e-3, repeated_aug=False)
    overrides.update(recipe_overrides)
    recipe = load_recipe("config/recipes/in1k_pretrain.yaml", overrides)
    return TrainConfig(model=model, img_size=32, data=DataConfig(name="synthetic", root="-", num_workers=0),
                       recipe=recipe, output_dir=str(output_dir), per_device_batch=per_device_batch,
                       model_kwargs=dict(depth=depth), experiment="tests", log_every=1,
                       checkpoint_every=checkpoint_every, grad_checkpointing=grad_checkpointing)


LAVIT_SIZE = 64   # Synthetic(size=LAVIT_SIZE): a 2 x 2 grid at stride 32


def lavit_job(output_dir, epochs=2, batch_size=16, per_device_batch=None, amp="off", model_kwargs=None,
              **recipe_overrides) -> TrainConfig:
    """A reduced LaViT-T (LA layers in stages 3 and 4) with LaViT's recipe: the DP loss is on (weight 0.1).
    ``model_kwargs`` replace the reduced depths (one or two blocks a stage)."""
    overrides = dict(epochs=epochs, batch_size=batch_size, warmup_epochs=1, lr=2e-3, lr_batch=None, mixup=0.0,
                     cutmix=0.0, random_erasing=0.0, drop_path=0.0, repeated_aug=False)   # DDP == one process
    overrides.update(recipe_overrides)
    recipe = load_recipe("config/recipes/lavit_in1k.yaml", overrides)
    return TrainConfig(model="lavit_tiny_224", img_size=LAVIT_SIZE,
                       data=DataConfig(name="synthetic", root="-", num_workers=0), recipe=recipe,
                       output_dir=str(output_dir), per_device_batch=per_device_batch, amp=amp,
                       model_kwargs=model_kwargs or dict(depths=[1, 1, 2, 2]), experiment="tests", log_every=1)
