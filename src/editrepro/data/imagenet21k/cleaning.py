"""The cleaning itself: classify every entry, sort, apply the threshold, split; one Polars query over all entries."""
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from ...provenance import git_commit
from .listing import Listing
from .rules import (_CODE, _REASON_OF, KNOWN_RELEASES, REASONS, SYNSET, CleanRules, DataError, _examples, _Phases,
                    _to_np, log)


@dataclass(frozen=True)
class CleanResult:
    """What ``clean`` found: the manifests, the class tables, the rejected entries and the counts."""
    train: pa.Table
    val: pa.Table
    classes: pa.Table   # label, synset, images, train, val
    dropped: pa.Table   # synset, images
    rejected: pa.Table  # path, reason, detail
    stats: Dict[str, Any]
    rules: CleanRules
    root: Optional[Path] = None
    corrupt: Optional[pa.Table] = None  # path, reason, detail: from verify_images, if it ran

    @property
    def splits(self) -> Dict[str, pa.Table]:
        return {"train": self.train, "val": self.val}


_MANIFEST = pa.schema([("path", pa.string()), ("label", pa.int32()), ("synset", pa.string())])
_IN_SYNSET = r"^n[0-9]{8}/"  # a synset folder's name is 9 ASCII bytes: the file name starts at byte 10
_REASON_NAME = {code: reason for reason, code in _CODE.items()}


def _image_pattern(extensions: Sequence[str]) -> str:
    """An image of a synset folder: ``n`` + 8 digits, ``/``, a file name that does not start with ``.`` or
    hold a ``/`` and ends with one of the extensions in any case (ASCII letters folded only)."""
    alternatives = "|".join("".join(c if c.isalnum() else f"\\x{ord(c):02X}" for c in e) for e in extensions)
    return f"{_IN_SYNSET}[^./][^/]*(?i-u:{alternatives})$"


def _stripped(listing: Listing) -> pl.Expr:
    """The entry without its ``./`` and, for absolute paths under the root, without ``root/``."""
    path = pl.col("path").str.strip_prefix("./")
    if listing.root is None:
        return path
    stripped = pl.when(False).then(path)
    for prefix in dict.fromkeys([str(listing.root).rstrip("/") + "/", os.path.abspath(listing.root).rstrip("/") + "/"]):
        if prefix.startswith("/") and prefix != "/":  # only absolute entries are looked at
            stripped = stripped.when(path.str.starts_with(prefix)).then(path.str.strip_prefix(prefix))
    return stripped.otherwise(path)


def _reason_of_others(from_listing: bool) -> pl.Expr:
    """The code of an entry that is not an image of a synset folder (the first reason that applies)."""
    code = {k: pl.lit(v, pl.Int8) for k, v in _CODE.items()}
    path = pl.col("path")
    in_synset = path.str.contains(_IN_SYNSET)
    folder_line = path.is_in(["", "."])
    if from_listing:  # `find .` without -type f also lists the folders
        folder_line |= path.str.contains(r"^n[0-9]{8}$")
    return (pl.when(pl.col("bad")).then(code["not_utf8"])
            .when(in_synset & (path.str.count_matches("/", literal=True) > 1)).then(code["nested"])
            .when(in_synset).then(code["not_image"])
            .when(~path.str.contains("/", literal=True))
            .then(pl.when(folder_line).then(code["folder_line"]).otherwise(code["outside_class_folder"]))
            .when(path.str.starts_with("/")).then(code["absolute_path"])
            .otherwise(code["not_synset"]))


@dataclass(frozen=True, eq=False)
class _Entries:
    images: pl.DataFrame    # path, synset: the images, sorted by path (so by synset, then file name), unique
    rejected: pl.DataFrame  # path, code, detail: every other entry (folder lines included)
    synsets: List[str]      # every synset folder among the entries, sorted
    counts: np.ndarray      # images per synset (0 where all its entries are rejected)


def _entries(listing: Listing, rules: CleanRules, exclude: Optional[pa.Table]) -> _Entries:
    """Split the listing into the images of synset folders (sorted, without duplicates) and the rest,
    each with its reason; only the rest, usually a handful, is looked at closely."""
    frame = pl.DataFrame({"path": listing.paths}).select(_stripped(listing).alias("path"))
    is_image = frame["path"].str.contains(_image_pattern(rules.extensions))
    if listing.not_utf8:   # rare: their escaped names could look like images
        bad = np.zeros(len(frame), bool)
        bad[list(listing.not_utf8)] = True
        is_image &= ~pl.Series(bad)
        others = frame.filter(~is_image).with_columns(bad=pl.Series(bad).filter(~is_image))
    else:
        others = frame.filter(~is_image).with_columns(bad=pl.lit(False))
    others = others.select("path", code=_reason_of_others(from_listing=listing.folders is None), detail=pl.lit(""))
    images = frame.filter(is_image)
    del frame, is_image
    parts = [others]
    if exclude is not None and len(exclude):
        # images to leave out (verify_images's output): rejected with their reason, not counted
        why = pl.from_arrow(exclude.select(["path", "reason", "detail"])).unique("path", keep="last")
        hit = images["path"].is_in(why["path"].implode())
        parts.append(images.filter(hit).join(why, on="path", how="left", maintain_order="left").select(
            "path", code=pl.col("reason").replace_strict(_CODE, return_dtype=pl.Int8), detail="detail"))
        images = images.filter(~hit)
    images = images.sort("path")
    dup = images["path"] == images["path"].shift(1)  # a path listed again: its later copies
    parts.append(images.filter(dup).select("path", code=pl.lit(_CODE["duplicate"], pl.Int8), detail=pl.lit("")))
    images = images.filter(~dup.fill_null(False)).with_columns(synset=pl.col("path").str.slice(0, 9))
    runs = images["synset"].rle()  # sorted: one run per synset
    rejected = pl.concat(parts)
    found = dict(zip(runs.struct.field("value").to_list(), runs.struct.field("len").to_list()))
    rejected_in = rejected.filter(pl.col("code") != _CODE["not_utf8"])["path"]
    for synset in rejected_in.filter(rejected_in.str.contains(_IN_SYNSET)).str.slice(0, 9).unique().to_list():
        found.setdefault(synset, 0)  # a synset folder whose entries are all rejected
    synsets = sorted(found)
    return _Entries(images=images, rejected=rejected, synsets=synsets,
                    counts=np.array([found[s] for s in synsets], np.int64))


def clean(listing: Union[Listing, pa.Array, pa.ChunkedArray, Sequence[str]], rules: CleanRules = CleanRules(), *,
          exclude: Optional[pa.Table] = None, report: bool = True) -> CleanResult:
    """Apply the rules to a listing: classify every entry, count classes, threshold, split.

    Args:
        listing: a ``Listing`` (or just the relative paths).
        rules: the cleaning rules.
        exclude: ``path, reason, detail`` of images to leave out (``verify_images``'s output); they
            count as rejected with their reason, and class sizes are counted without them.
        report: log the findings (warnings naming the rejected entries, the counts).

    Raises:
        DataError: nothing in the listing is an image of a synset folder, or no class is kept.
    """
    if not isinstance(listing, Listing):
        listing = Listing.from_paths(listing)
    phase = _Phases(listing.source)
    n = len(listing)
    found = _entries(listing, rules, exclude)
    synsets, counts = found.synsets, found.counts
    phase("classified and sorted")

    seen = counts > 0
    keep = rules.keeps(counts)
    not_synset = found.rejected.filter(pl.col("code") == _CODE["not_synset"])["path"].str.split("/").list.first()
    not_synset = sorted(set(not_synset.to_list()) | ({f for f in listing.folders if not SYNSET.fullmatch(os.fsencode(f))}
                                                     if listing.folders is not None else set()))
    if not seen.any():
        raise DataError(_nothing_found_message(listing, found.rejected, not_synset))
    if not keep.any():
        raise DataError(f"{listing.source}: no class is kept by the rule '{rules.describe()}' "
                        f"({int(seen.sum()):,} classes, the largest with {int(counts.max()):,} images)")

    # the images are sorted by synset: each class is one run of rows
    kept_synsets = [s for s, k in zip(synsets, keep) if k]
    kcounts = counts[keep]
    kstart = np.concatenate([[0], np.cumsum(kcounts)[:-1]])
    in_kept = np.repeat(keep[seen], counts[seen])
    paths = found.images["path"].filter(pl.Series(in_kept))
    label = np.repeat(np.arange(len(kept_synsets), dtype=np.int32), kcounts)
    is_val = _select_val(label, kcounts, kstart, kept_synsets, rules)
    synset_strings = pa.array(kept_synsets, pa.string())

    def manifest(sel: np.ndarray) -> pa.Table:
        labels = pa.array(label[sel])
        return pa.table([paths.filter(pl.Series(sel)).to_arrow().cast(pa.string()), labels,
                         synset_strings.take(labels)], schema=_MANIFEST)

    train, val = manifest(~is_val), manifest(is_val)
    phase("manifests built")
    n_val = np.bincount(label[is_val], minlength=len(kept_synsets))
    classes = pa.table({"label": pa.array(np.arange(len(kept_synsets), dtype=np.int32)), "synset": synset_strings,
                        "images": pa.array(kcounts), "train": pa.array(kcounts - n_val), "val": pa.array(n_val)})
    dropped_sel = seen & ~keep
    dropped = pa.table({"synset": pa.array([s for s, d in zip(synsets, dropped_sel) if d], pa.string()),
                        "images": pa.array(counts[dropped_sel])})

    # synset folders without a single image: from the scan's folder list, or entries that are all rejected
    empty = {s for s, c in zip(synsets, counts) if c == 0}
    if listing.folders is not None:
        known = set(synsets) | {p[:-1] for p, reason, _ in listing.problems if reason == "unreadable_folder"}
        empty |= {f for f in listing.folders if SYNSET.fullmatch(os.fsencode(f)) and f not in known}
    empty = sorted(empty)

    rejected = _rejected_table(found.rejected, listing.problems)
    folder_lines = int((found.rejected["code"] == _CODE["folder_line"]).sum())
    stats = _stats(listing, rules, n, counts, seen, keep, train, val, rejected, empty, not_synset, folder_lines)
    if report:
        _log_findings(listing, rules, stats, rejected, empty, not_synset, phase.elapsed)
    return CleanResult(train=train, val=val, classes=classes, dropped=dropped, rejected=rejected, stats=stats,
                       rules=rules, root=listing.root)


def _select_val(label: np.ndarray, counts: np.ndarray, starts: np.ndarray, synsets: List[str],
                rules: CleanRules) -> np.ndarray:
    """Validation rows, over rows sorted by (label, file name)."""
    rank = np.arange(len(label)) - starts[label]
    if rules.val_selection == "first":
        return rank < rules.val_per_class
    is_val = np.zeros(len(label), bool)
    for c, synset in enumerate(synsets):
        # seeded by (seed, synset): a class's pick does not depend on which other classes exist
        rng = np.random.default_rng([rules.seed, int(synset[1:])])
        is_val[starts[c] + rng.choice(int(counts[c]), rules.val_per_class, replace=False)] = True
    return is_val


def _rejected_table(rejected: pl.DataFrame, problems) -> pa.Table:
    found = (rejected.filter(pl.col("code") != _CODE["folder_line"])
             .select("path", pl.col("code").replace_strict(_REASON_NAME, return_dtype=pl.String).alias("reason"),
                     "detail"))
    listed = pl.DataFrame([list(x) for x in problems], schema=["path", "reason", "detail"], orient="row")
    table = pl.concat([found, listed.cast(pl.String)]).sort(["path", "reason"], maintain_order=True)
    return table.to_arrow().cast(pa.schema([(c, pa.string()) for c in ("path", "reason", "detail")]))


def _nothing_found_message(listing: Listing, rejected: pl.DataFrame, not_synset: List[str]) -> str:
    found = np.bincount(rejected["code"].to_numpy(), minlength=len(_REASON_OF))
    why = [f"{int(found[c]):,} {_REASON_OF[c]}" for c in np.flatnonzero(found)]
    if not_synset:
        why.append(f"folders not named by a synset: {_examples(not_synset, 3)}")
    if listing.problems:
        why.append(f"not listed: {_examples([p for p, _, _ in listing.problems], 3)}")
    first = listing.paths.head(3).to_frame().select(_stripped(listing))["path"].to_list()
    return (f"{listing.source}: no image of a synset class folder among {len(listing):,} entries "
            f"({'; '.join(why) or 'none'}; first entries: {', '.join(first) or 'none'}); expected paths like "
            "n01440764/n01440764_10026.JPEG relative to the ImageNet-21k root (is the root one level too high or "
            "too low?)")


def _stats(listing: Listing, rules: CleanRules, n: int, counts: np.ndarray, seen: np.ndarray, keep: np.ndarray,
           train: pa.Table, val: pa.Table, rejected: pa.Table, empty: List[str], not_synset: List[str],
           folder_lines: int) -> Dict[str, Any]:
    m = rules.min_images
    at = counts == m
    kept_le, kept_lt = int((counts > m).sum()), int(((counts >= m) & seen).sum())
    reasons = pc.value_counts(rejected.column("reason")).to_pylist() if len(rejected) else []
    kept_counts = counts[keep]
    stats = {
        "dataset": "imagenet-21k",
        "root": str(Path(listing.root).resolve()) if listing.root is not None else None,
        "source": listing.source,
        "rules": {**asdict(rules), "extensions": list(rules.extensions), "description": rules.describe()},
        "entries": {
            "listed": n,
            "folder_lines": folder_lines,
            "images": int(counts.sum()),
            "rejected": {r["values"]: r["counts"] for r in sorted(reasons, key=lambda r: r["values"])},
        },
        "classes": {
            "seen": int(seen.sum()),
            "kept": int(keep.sum()),
            "dropped": int((seen & ~keep).sum()),
            "empty": len(empty),
            "not_synset_folders": len(not_synset),
        },
        "images": {
            "train": len(train),
            "val": len(val),
            "total": len(train) + len(val),
            "in_dropped_classes": int(counts[seen & ~keep].sum()),
        },
        "threshold": {
            "min_images": m,
            "drop_rule": rules.drop_rule,
            "classes_at_threshold": int(at.sum()),
            "images_at_threshold": int(counts[at].sum()),
            "classes_kept_le": kept_le,   # reference: drop <= min_images
            "classes_kept_lt": kept_lt,   # paper: drop < min_images
            "readings_differ_by": kept_lt - kept_le,
        },
        "class_size": {"min": int(kept_counts.min()), "median": float(np.median(kept_counts)),
                       "max": int(kept_counts.max())},
        "val": {"per_class": rules.val_per_class, "selection": rules.val_selection},
        "matches_release": None,
        "verify": None,
        "git_commit": git_commit(),
    }
    if rules == CleanRules():
        for release, known in KNOWN_RELEASES.items():
            if (known["classes"], known["train"] + known["val"]) == (stats["classes"]["kept"], len(train) + len(val)):
                stats["matches_release"] = release
    return stats


def _log_findings(listing: Listing, rules: CleanRules, stats: Dict[str, Any], rejected: pa.Table,
                  empty: List[str], not_synset: List[str], seconds: float) -> None:
    if len(rejected):
        reasons = _to_np(rejected.column("reason"))
        paths = _to_np(rejected.column("path"))
        for reason, count in stats["entries"]["rejected"].items():
            if reason == "not_synset":
                continue
            log.warning("%s entries %s, skipped: %s", f"{count:,}", REASONS.get(reason, reason),
                        _examples(paths[reasons == reason]))
    if not_synset:
        log.warning("%s folders are not named by a WordNet synset (n + 8 digits) and were skipped, with the "
                    "%s files in them: %s", f"{len(not_synset):,}",
                    f"{stats['entries']['rejected'].get('not_synset', 0):,}", _examples(not_synset))
    if empty:
        log.warning("%s synset folders hold no image: %s", f"{len(empty):,}", _examples(empty))
    c, t, i = stats["classes"], stats["threshold"], stats["images"]
    log.info("%s: %s images in %s classes; kept %s classes, dropped %s (%s); train %s, val %s (%.1f s)",
             listing.source, f"{stats['entries']['images']:,}", f"{c['seen']:,}", f"{c['kept']:,}", f"{c['dropped']:,}",
             rules.describe(), f"{i['train']:,}", f"{i['val']:,}", seconds)
    log.info("%s classes have exactly %d images: the two readings of the threshold differ by %s classes "
             "(kept: %s with <= dropped, %s with < dropped)", f"{t['classes_at_threshold']:,}", t["min_images"],
             f"{t['readings_differ_by']:,}", f"{t['classes_kept_le']:,}", f"{t['classes_kept_lt']:,}")
    if stats["matches_release"]:
        log.info("the counts are the paper's for ImageNet-21k %s", stats["matches_release"])
