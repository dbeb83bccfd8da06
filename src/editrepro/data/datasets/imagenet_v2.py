"""ImageNet-V2 (matched frequency) as its released tarball extracts: folders named by class index.

Not a ``build_dataset`` name: it is a second test set of an ImageNet-1k classifier, read by
``editrepro evaluate --imagenet-v2 DIR`` beside the ImageNet-1k val set.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ._common import ImageListDataset, LayoutError, is_hidden, is_image_file

__all__ = ["ImageNetV2", "IMAGENET_V2_FOLDER"]

IMAGENET_V2_FOLDER = "imagenetv2-matched-frequency-format-val"   # the tarball's top folder


class ImageNetV2(ImageListDataset):
    """ImageNet-V2's class folders ``0/ .. 999/``: folder ``"k"`` holds images of ImageNet-1k label ``k``.

    The folder names are class indices (the sorted-synset labels of ImageNet-1k), not synsets, and
    are read as integers: sorted as strings they would run 0, 1, 10, 100, ... and ``ImageFolder``
    would give folder "10" label 2. ``root`` must hold exactly the class folders ``0 ..
    num_classes-1`` (1000 for ImageNet-1k; the demo's stand-in has the demo's class count); ``root``
    may also be the folder the tarball was extracted into (holding ``IMAGENET_V2_FOLDER``).
    """

    LAYOUT = f"""
        root/                      ({IMAGENET_V2_FOLDER}/, as the tarball extracts)
            0/7e4b0c1f2a....jpeg ...   (one folder per ImageNet-1k class index, 0 .. 999)
            1/ ...
            999/ ...
    """

    def __init__(self, root: str | Path, transform: Callable | None = None, num_classes: int = 1000):
        root = Path(root).expanduser()
        if not root.is_dir():
            raise LayoutError("imagenet_v2", root, "the folder does not exist", self.LAYOUT)
        if (root / IMAGENET_V2_FOLDER).is_dir() and not (root / "0").is_dir():
            root = root / IMAGENET_V2_FOLDER
        folders = {e.name: e for e in root.iterdir() if e.is_dir() and not is_hidden(e.name)}
        by_index = {int(name): path for name, path in folders.items() if name.isdigit() and str(int(name)) == name}
        expected = set(range(num_classes))
        missing = sorted(expected - set(by_index))
        unexpected = sorted(set(folders) - {str(k) for k in expected})
        if missing or unexpected:
            problems = []
            if missing:
                problems.append(f"{len(missing)} class folder(s) missing ({_few(missing)})")
            if unexpected:
                problems.append(f"{len(unexpected)} unexpected folder(s) ({_few(unexpected)})")
            raise LayoutError("imagenet_v2", root,
                              f"expected exactly the {num_classes} class folders 0..{num_classes - 1} (folder names "
                              f"are ImageNet-1k class indices), but {' and '.join(problems)}", self.LAYOUT)
        paths, labels = [], []
        for k in range(num_classes):   # numeric order: folder "10" is label 10
            names = sorted(e.name for e in by_index[k].iterdir()
                           if e.is_file() and is_image_file(e.name) and not is_hidden(e.name))
            paths += [f"{k}/{name}" for name in names]
            labels += [k] * len(names)
        if not paths:
            raise LayoutError("imagenet_v2", root, "no images in the class folders", self.LAYOUT)
        super().__init__(root, paths, labels, [str(k) for k in range(num_classes)], transform, "val")


def _few(items, n: int = 5) -> str:
    shown = ", ".join(map(str, items[:n]))
    return shown + (", ..." if len(items) > n else "")
