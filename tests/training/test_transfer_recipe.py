"""Every transfer dataset of Table 4 through the transfer recipe: its transforms, cutmix, loss and a step."""
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from editrepro.recipes import DataConfig, TrainConfig, load_recipe
from editrepro.training.tasks import task_for

TRANSFER = {"cifar10": 10, "cifar100": 100, "flowers102": 102, "dtd": 47, "caltech256": 256}


def classes_on_disk(name, dataset):
    """Caltech-256 has a class per category folder but clutter (the demo writes 8); the others are fixed."""
    if name == "caltech256":
        return sum(1 for d in Path(dataset.root).iterdir() if d.is_dir() and not d.name.endswith(".clutter"))
    return TRANSFER[name]


@pytest.mark.parametrize("name", sorted(TRANSFER))
def test_each_transfer_dataset_feeds_the_transfer_recipe(demo, tmp_path, name):
    recipe = load_recipe("config/recipes/transfer.yaml", {"batch_size": 8})
    cfg = TrainConfig(model="edit_tiny_patch16_224", data=DataConfig(name, str(demo[name]), val_split="test",
                                                                     num_workers=0),
                      recipe=recipe, output_dir=str(tmp_path), img_size=32, model_kwargs={"depth": 1})
    task = task_for(cfg)
    train_set, test_set = task.datasets()
    n_cls = classes_on_disk(name, train_set)
    assert train_set.num_classes == test_set.num_classes == n_cls

    images, labels = next(iter(DataLoader(train_set, batch_size=8, shuffle=True)))
    assert images.shape == (8, 3, 32, 32) and labels.dtype == torch.int64
    assert 0 <= labels.min() and labels.max() < n_cls
    # no flip and no colour jitter in this recipe; 3-Augment's grayscale/solarize/blur are on
    assert recipe.hflip is False and recipe.color_jitter is None and recipe.three_augment is True

    mixup = task.mixup(n_cls)
    mixed, soft = mixup(images, labels)
    # cutmix 1.0 with label smoothing 0.1: every row is a distribution over the classes, at most 0.9 + 0.1/C on one
    assert soft.shape == (8, n_cls)
    torch.testing.assert_close(soft.sum(1), torch.ones(8))
    assert soft.max() <= 0.9 + 0.1 / n_cls + 1e-6

    model = task.model(n_cls)
    assert model.head.out_features == n_cls
    optimizer = task.optimizer(model)
    loss = task.criterion()(model(mixed), soft)
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss) and loss.item() > 0
