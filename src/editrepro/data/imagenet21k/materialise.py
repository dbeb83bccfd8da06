"""Touching images: verify, an ImageFolder tree of symlinks, a resized copy (resumable; a bad image never raises)."""
import multiprocessing as mp
import os
import shutil
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from .rules import PathLike, _examples, _to_np, log


def _pool(workers: Optional[int]):
    """A process pool; fork where there is one (the parent's imports are reused, nothing is pickled twice)."""
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    return ctx.Pool(workers or os.cpu_count() or 1, initializer=_init_worker)


def _init_worker() -> None:
    from PIL import Image, ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated image must fail
    Image.MAX_IMAGE_PIXELS = None            # ImageNet has a few very large, valid images
    warnings.simplefilter("ignore")          # EXIF and colour-profile warnings are not decode errors


@contextmanager
def _worker_settings() -> Iterator[None]:
    """``_init_worker``'s settings for work done in this process, restored afterwards."""
    from PIL import Image, ImageFile

    saved = ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            _init_worker()
            yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS = saved


def _check_images(root: str, paths: List[str]) -> List[Tuple[str, str, str]]:
    from PIL import Image

    bad = []
    for path in paths:
        try:
            f = open(os.path.join(root, path), "rb")
        except OSError as e:
            bad.append((path, "unreadable", f"{type(e).__name__}: {e.strerror or e}"))
            continue
        try:
            with f, Image.open(f) as im:
                im.load()
        except Exception as e:  # any decoder failure marks the image corrupt; it must not stop the run
            bad.append((path, "corrupt", f"{type(e).__name__}: {e}"))
    return bad


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for s in range(0, len(items), size):
        yield items[s:s + size]


def _run_chunks(fn, tasks: List[Tuple[Any, ...]], total: int, workers: Optional[int], progress: bool,
                desc: str, unit: str) -> Iterator[Tuple[int, Any]]:
    """Run ``fn(*task)`` for every task, in a pool unless ``workers == 1``; yield (items done, result)."""
    with tqdm(total=total, desc=desc, unit=unit, disable=not progress, smoothing=0.05) as bar:
        if workers == 1:
            for t in tasks:
                with _worker_settings():
                    r = fn(*t)
                bar.update(len(t[-1]))
                yield len(t[-1]), r
            return
        with _pool(workers) as pool:
            for k, r in pool.imap_unordered(_sized_call, [(fn, t) for t in tasks]):
                bar.update(k)
                yield k, r


def _sized_call(job):
    fn, task = job
    return len(task[-1]), fn(*task)


def verify_images(root: PathLike, paths: Union[pa.Array, Sequence[str]], *, workers: Optional[int] = None,
                  progress: bool = True, chunk: int = 256) -> pa.Table:
    """Decode every image (PIL, fully) in a process pool; return ``path, reason, detail`` of those that
    fail, sorted by path: ``unreadable`` (cannot be opened) or ``corrupt`` (cannot be decoded)."""
    paths = paths.to_pylist() if isinstance(paths, (pa.Array, pa.ChunkedArray)) else list(paths)
    tasks = [(str(root), list(c)) for c in _chunks(paths, chunk)]
    bad: List[Tuple[str, str, str]] = []
    for _, found in _run_chunks(_check_images, tasks, len(paths), workers, progress, "verifying", "img"):
        bad += found
    bad.sort()
    if bad:
        log.warning("%s of %s images could not be read or decoded: %s", f"{len(bad):,}", f"{len(paths):,}",
                    _examples([f"{p} ({d})" for p, _, d in bad], 3))
    return pa.table({"path": pa.array([b[0] for b in bad], pa.string()),
                     "reason": pa.array([b[1] for b in bad], pa.string()),
                     "detail": pa.array([b[2] for b in bad], pa.string())})


def _class_folders(table: pa.Table) -> Iterator[Tuple[str, List[str]]]:
    """(synset, relative paths) per class of a manifest, whose rows are sorted by label."""
    labels = _to_np(table.column("label"))
    if not len(labels):
        return
    cuts = np.concatenate([[0], np.flatnonzero(np.diff(labels)) + 1, [len(labels)]])
    paths = table.column("path")
    synsets = table.column("synset")
    for a, b in zip(cuts[:-1], cuts[1:]):
        yield synsets[int(a)].as_py(), paths.slice(int(a), int(b - a)).to_pylist()


def _link_folder(root: str, folder: Path, paths: List[str]) -> Dict[str, int]:
    folder.mkdir(parents=True, exist_ok=True)
    counts = dict(created=0, existing=0, replaced=0, removed_stale=0, conflicts=0)
    wanted = {p.rsplit("/", 1)[1]: os.path.join(root, p) for p in paths}
    with os.scandir(folder) as it:
        existing = {e.name: e.is_symlink() for e in it}
    for name, is_link in existing.items():
        if name not in wanted and is_link:  # a link of an earlier run that these manifests drop
            os.unlink(folder / name)
            counts["removed_stale"] += 1
    for name, target in wanted.items():
        dst = folder / name
        if name in existing:
            if not existing[name]:
                counts["conflicts"] += 1  # a real file: never overwritten
                continue
            if os.readlink(dst) == target:
                counts["existing"] += 1
                continue
            tmp = folder / f".{name}.tmp-link"
            tmp.unlink(missing_ok=True)
            os.symlink(target, tmp)
            os.replace(tmp, dst)
            counts["replaced"] += 1
        else:
            os.symlink(target, dst)
            counts["created"] += 1
    return counts


def materialise_symlinks(splits: Mapping[str, pa.Table], root: PathLike, dest: PathLike, *, threads: int = 16,
                         progress: bool = True) -> Dict[str, int]:
    """Make ``dest/<split>/<synset>/<file>`` symlinks to ``root/<path>``: an ImageFolder tree per split.

    Links point at absolute paths. Re-running resumes: correct links are kept, wrong ones
    replaced, links the manifests no longer list removed; a real file in the way is never
    touched (counted as a conflict).
    """
    root_s = str(Path(root).resolve())
    dest = Path(dest)
    jobs = [(dest / split / synset, paths)
            for split, table in splits.items() for synset, paths in _class_folders(table)]
    totals = dict(created=0, existing=0, replaced=0, removed_stale=0, conflicts=0)
    with ThreadPoolExecutor(max(1, threads)) as pool, \
            tqdm(total=len(jobs), desc=f"linking {dest}", unit="folder", disable=not progress) as bar:
        for counts in pool.map(lambda job: _link_folder(root_s, *job), jobs):
            bar.update()
            for k, v in counts.items():
                totals[k] += v
    for split in splits:
        folder = dest / split
        wanted = {str(j[0].name) for j in jobs if j[0].parent == folder}
        extra = sorted(e.name for e in os.scandir(folder) if e.name not in wanted) if folder.is_dir() else []
        if extra:
            log.warning("%s has %s folders that are not classes of the manifest (left alone): %s", folder,
                        f"{len(extra):,}", _examples(extra))
    if totals["conflicts"]:
        log.warning("%s files in %s are real files where a link was due; left alone", f"{totals['conflicts']:,}", dest)
    log.info("symlink tree %s: %s", dest, ", ".join(f"{k} {v:,}" for k, v in totals.items()))
    return totals


def _resize_bilinear(a: np.ndarray, width: int, height: int, scale: Optional[float] = None) -> np.ndarray:
    """Bilinear resampling without antialiasing, as ``cv2.resize(..., INTER_LINEAR)`` (the reference).

    Pixel centres are aligned (``src = (dst + 0.5) / scale - 0.5``, clamped at the borders), with
    ``scale`` the output/input ratio of each axis or, as cv2 with ``fx = fy``, the one given. cv2
    rounds its 11-bit fixed-point weights, so values can differ from it by 1.
    """
    h, w = a.shape[:2]

    def axis(n_out: int, n_in: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = (np.arange(n_out) + 0.5) * (1 / scale if scale else n_in / n_out) - 0.5
        x0 = np.floor(x).astype(np.int64)
        frac = x - x0
        frac[x0 < 0] = 0.0
        x0 = np.clip(x0, 0, n_in - 1)
        frac[x0 >= n_in - 1] = 0.0
        return x0, np.minimum(x0 + 1, n_in - 1), frac.astype(np.float32)

    y0, y1, fy = axis(height, h)
    x0, x1, fx = axis(width, w)
    a = a.astype(np.float32)
    rows = a[y0] * (1 - fy)[:, None, None] + a[y1] * fy[:, None, None]
    out = rows[:, x0] * (1 - fx)[None, :, None] + rows[:, x1] * fx[None, :, None]
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)


def _resize_images(root: str, mode: str, size: int, quality: int, resample: str,
                   jobs: List[Tuple[str, str]]) -> List[Tuple[str, str, str]]:
    """Resize ``root/src`` to ``dst`` for each job, as the reference's ``resize.py``: an image whose
    longer side is under ``size`` is copied unchanged; others become ``size`` x ``size`` (squish) or
    get a short side of ``size`` (short-side), RGB, JPEG quality 95 (PNG for ``.png``)."""
    from PIL import Image, ImageOps

    failed = []
    for src, dst in jobs:
        full = os.path.join(root, src)
        tmp = f"{dst}.tmp-{os.getpid()}"
        try:
            with Image.open(full) as im:
                im = ImageOps.exif_transpose(im)  # cv2.imread applies the EXIF orientation
                w, h = im.size
                if max(w, h) < size:
                    shutil.copyfile(full, tmp)
                else:
                    if mode == "squish":
                        new, scale = (size, size), None
                    else:
                        scale = size / min(w, h)
                        new = (max(1, round(w * scale)), max(1, round(h * scale)))
                    im = im.convert("RGB")
                    if resample == "reference":
                        im = Image.fromarray(_resize_bilinear(np.asarray(im), *new, scale=scale))
                    else:
                        im = im.resize(new, Image.Resampling.BICUBIC)
                    if dst.lower().endswith(".png"):
                        im.save(tmp, format="PNG")
                    else:
                        im.save(tmp, format="JPEG", quality=quality)
            os.replace(tmp, dst)
        except Exception as e:  # one bad image must not stop a run over millions; it is reported
            failed.append((src, "corrupt" if not isinstance(e, PermissionError) else "unreadable",
                           f"{type(e).__name__}: {e}"))
            if os.path.exists(tmp):
                os.unlink(tmp)
    return failed


def resize_tree(splits: Mapping[str, pa.Table], root: PathLike, dest: PathLike, *, mode: str = "squish",
                size: Optional[int] = None, quality: int = 95, resample: str = "reference",
                workers: Optional[int] = None, progress: bool = True, chunk: int = 64) -> Dict[str, Any]:
    """Write resized copies as ``dest/<split>/<synset>/<file>``, in a process pool.

    Args:
        mode: ``"squish"`` (``size`` x ``size``, aspect not kept; default size 224) or
            ``"short-side"`` (short side ``size``, aspect kept; default size 256), the reference's
            two variants.
        resample: ``"reference"`` (bilinear without antialiasing, as the reference's cv2) or
            ``"bicubic"`` (PIL's antialiased bicubic).
        quality: JPEG quality (cv2's default, 95, in the reference).

    Every file is written to a temporary name and renamed, so an interrupted run leaves only
    complete files, and a re-run skips them (resume). Images that fail are reported, not raised.
    """
    if mode not in ("squish", "short-side"):
        raise ValueError(f"mode must be 'squish' or 'short-side', got {mode!r}")
    if resample not in ("reference", "bicubic"):
        raise ValueError(f"resample must be 'reference' or 'bicubic', got {resample!r}")
    size = size or (224 if mode == "squish" else 256)
    dest = Path(dest)
    jobs: List[Tuple[str, str]] = []
    skipped = 0
    for split, table in splits.items():
        for synset, paths in _class_folders(table):
            folder = dest / split / synset
            folder.mkdir(parents=True, exist_ok=True)
            with os.scandir(folder) as it:
                done = {e.name for e in it}
            for path in paths:
                name = path.rsplit("/", 1)[1]
                if name in done:
                    skipped += 1
                else:
                    jobs.append((path, str(folder / name)))
    tasks = [(str(Path(root)), mode, size, quality, resample, list(c)) for c in _chunks(jobs, chunk)]
    failed: List[Tuple[str, str, str]] = []
    for _, found in _run_chunks(_resize_images, tasks, len(jobs), workers, progress, f"resizing to {dest}", "img"):
        failed += found
    failed.sort()
    if failed:
        log.warning("%s images could not be resized (left out of %s): %s", f"{len(failed):,}", dest,
                    _examples([f"{p} ({d})" for p, _, d in failed], 3))
    log.info("resized %s images into %s (%s already there)", f"{len(jobs) - len(failed):,}", dest, f"{skipped:,}")
    return {"written": len(jobs) - len(failed), "skipped_existing": skipped, "failed": failed,
            "mode": mode, "size": size}
