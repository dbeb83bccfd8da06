"""What every reader shares: split names, the RGB loader, layout errors, the image-list base."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pyarrow as pa
from PIL import Image
from torch.utils.data import Dataset

__all__ = [
    "LayoutError", "ImageListDataset", "find_base", "load_rgb", "is_image_file", "normalise_split",
    "IMAGE_EXTENSIONS",
]

# torchvision's IMG_EXTENSIONS, compared case-insensitively
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


class LayoutError(FileNotFoundError):
    """A dataset is not where, or not how, its reader expects it. The message shows the layout."""

    def __init__(self, dataset: str, path: str | Path, problem: str, layout: str):
        self.dataset, self.path = dataset, Path(path)
        layout = textwrap.indent(textwrap.dedent(layout).strip("\n"), "    ")
        super().__init__(
            f"{dataset}: {problem} (looked in {self.path}).\nExpected layout:\n{layout}")


def normalise_split(dataset: str, split: str, *, test_alias: bool) -> str:
    """``"train"`` or ``"val"``; with ``test_alias`` (the dataset calls its evaluation split
    "test"), "test" means "val"."""
    allowed = ("train", "val", "test") if test_alias else ("train", "val")
    if split not in allowed:
        raise ValueError(
            f"{dataset}: split must be one of {', '.join(map(repr, allowed))}, not {split!r}")
    return "val" if split == "test" else split


def find_base(dataset: str, root: str | Path, candidates: Sequence[str],
              is_base: Callable[[Path], bool], layout: str) -> Path:
    """The dataset's own folder: ``root/<candidate>`` for the first candidate that ``is_base``.

    ``candidates`` are relative paths tried in order; ``"."`` lets ``root`` itself be that
    folder, so both the torchvision convention (the parent of ``cifar-10-batches-py/``) and the
    folder itself work.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise LayoutError(dataset, root, "the root directory does not exist", layout)
    for c in candidates:
        if is_base(root / c):
            return (root / c).resolve() if c != "." else root.resolve()
    tried = ", ".join(c if c != "." else "the root itself" for c in candidates)
    raise LayoutError(dataset, root, f"no dataset folder found (tried {tried})", layout)


def load_rgb(path: str | Path) -> Image.Image:
    """Open an image as RGB whatever its mode (grayscale, CMYK, palette), as torchvision's
    ``pil_loader`` does."""
    with open(path, "rb") as f:
        img = Image.open(f)
        return img.convert("RGB")


def is_image_file(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


class ImageListDataset(Dataset):
    """A classification dataset given as image paths and labels: ``(transform(PIL RGB), label)``.

    Paths are kept relative to ``root`` in one Arrow string array and labels in one int64 array,
    so eleven million samples cost a few hundred MB, not Python objects that DataLoader workers
    would copy on write. Attributes: ``classes`` (names; index = label), ``num_classes``,
    ``targets`` (int64 labels in sample order, what samplers read), ``root``; ``path(i)`` gives a
    sample's file.
    """

    def __init__(self, root: str | Path, paths: Sequence[str] | pa.Array, labels: Sequence[int],
                 classes: Sequence[str], transform: Callable | None = None, split: str = ""):
        self.root = Path(root)
        if not isinstance(paths, pa.Array):
            paths = pa.array([str(p) for p in paths], pa.string())
        self._paths = paths
        self.targets = np.asarray(labels, dtype=np.int64)
        if len(self._paths) != len(self.targets):
            raise ValueError(f"{len(self._paths)} paths but {len(self.targets)} labels")
        self.classes = list(classes)
        self.transform = transform
        self.split = split

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def path(self, index: int) -> Path:
        return self.root / self._paths[index].as_py()

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        img = load_rgb(self.path(index))
        if self.transform is not None:
            img = self.transform(img)
        return img, int(self.targets[index])

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, "
                f"samples={len(self)}, classes={self.num_classes}, transform={self.transform!r})")
