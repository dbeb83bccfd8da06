"""What every reader shares: split names, the RGB loader, layout errors, the image-list base."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pyarrow as pa
from PIL import Image
from torch.utils.data import Dataset

__all__ = [
    "LayoutError", "ImageListDataset", "find_base", "load_rgb", "is_image_file", "normalise_split",
    "IMAGE_EXTENSIONS", "is_hidden", "class_folders", "scan_class_folders", "class_list_difference",
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


def is_hidden(name: str) -> bool:
    """A name starting with '.' (``.ipynb_checkpoints``, ``.DS_Store``, macOS ``._x.jpg``): never a class
    folder or a sample."""
    return name.startswith(".")


def _class_images(folder: str, name: str, first_only: bool = False) -> list[str]:
    """The image files under ``folder/name`` (at any depth, hidden folders and files skipped) as paths
    relative to ``folder``, in ``ImageFolder``'s order (sub-folders sorted, then file names); with
    ``first_only``, at most one (enough to tell an empty class folder)."""
    top = os.path.join(folder, name)
    if first_only:     # stop at the first image: reading train/'s 1.28M entries to list its classes would be slow
        return [os.path.join(name, f) for f in _first_image(top)]
    found = []
    for root, dirs, files in os.walk(top, followlinks=True):
        dirs[:] = [d for d in dirs if not is_hidden(d)]
        found.append((root, sorted(f for f in files if not is_hidden(f) and is_image_file(f))))
    return [os.path.join(os.path.relpath(root, folder), f) for root, images in sorted(found) for f in images]


def _first_image(top: str) -> list[str]:
    """``[path of one image under top, relative to it]``, or ``[]``; reads folder entries only until one is found."""
    subfolders = []
    with os.scandir(top) as it:
        for e in it:
            if is_hidden(e.name):
                continue
            if e.is_dir():
                subfolders.append(e.name)
            elif is_image_file(e.name):
                return [e.name]
    for sub in sorted(subfolders):
        found = _first_image(os.path.join(top, sub))
        if found:
            return [os.path.join(sub, found[0])]
    return []


def scan_class_folders(folder: str | Path, first_only: bool = False) -> dict[str, list[str]]:
    """Every visible sub-folder of ``folder`` (hidden ones skipped) -> its image files (see ``_class_images``);
    an empty list for a folder without an image file. Names in sorted order."""
    folder = str(folder)
    with os.scandir(folder) as it:
        names = sorted(e.name for e in it if not is_hidden(e.name) and e.is_dir())
    return {name: _class_images(folder, name, first_only) for name in names}


def class_folders(folder: str | Path) -> list[str]:
    """A split's class list: its sub-folders, sorted, leaving out hidden ones (name starting with '.') and
    those without an image file (an extension of ``IMAGE_EXTENSIONS``, at any depth)."""
    return [name for name, images in scan_class_folders(folder, first_only=True).items() if images]


def class_list_difference(a: Sequence[str], b: Sequence[str], a_name: str, b_name: str) -> str:
    """What differs between two class lists, in words ("" when they are equal)."""
    a, b = [str(c) for c in a], [str(c) for c in b]
    if a == b:
        return ""
    only_a, only_b = [c for c in a if c not in set(b)], [c for c in b if c not in set(a)]
    parts = [f"{a_name} has {len(a)} classes, {b_name} {len(b)}"]
    if only_a:
        parts.append(f"only in {a_name}: {_few(only_a)}")
    if only_b:
        parts.append(f"only in {b_name}: {_few(only_b)}")
    if not only_a and not only_b:
        i = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)
        parts.append(f"the same names in another order (label {i} is {a[i]!r} in {a_name}, {b[i]!r} in {b_name})")
    return "; ".join(parts)


def _few(items: Sequence[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f", ... ({len(items)} in all)" if len(items) > n else "")


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
