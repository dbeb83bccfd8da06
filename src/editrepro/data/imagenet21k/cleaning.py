"""The cleaning itself: classify every entry, sort, apply the threshold, split; vectorised over all entries."""
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ...provenance import git_commit
from ..pathbytes import Paths, Words, all_digits, contains_byte, sort_rows, suffix_is
from .listing import Listing
from .rules import (_CODE, _REASON_OF, _SYNSET_LEN, KNOWN_RELEASES, REASONS, SYNSET, CleanRules, DataError, _examples,
                    _Phases, _to_np, log)


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


_CHUNK = 1 << 20  # rows classified at a time: bounds the temporaries to ~100 MB per thread
_THREADS = min(4, os.cpu_count() or 1)


def _u(x: int) -> np.uint64:
    return np.uint64(x)


@dataclass(eq=False)
class _Classified:
    start: np.ndarray      # int64: the entry's bytes after "./" (and root/) are stripped
    end: np.ndarray
    code: np.ndarray       # int8: 0 an image of a synset folder, else _CODE[reason]
    in_synset: np.ndarray  # bool: directly inside a synset-named folder
    synset: np.ndarray     # uint64: the synset's 8 digits as big-endian ASCII (where in_synset)
    prefixed: np.ndarray   # bool: the file name starts with "<synset>_"
    not_synset: List[str]  # folders that are not synsets, found among the entries
    folder_lines: int      # lines naming a folder ("." or a synset) instead of a file: ignored


def _strip_root(words: Words, start: np.ndarray, end: np.ndarray, rows: np.ndarray, root: Path) -> None:
    """Move ``start`` past ``root/`` for those of ``rows`` (absolute paths) that begin with it."""
    for prefix in dict.fromkeys([str(root).rstrip("/") + "/", os.path.abspath(root).rstrip("/") + "/"]):
        if not len(rows) or prefix == "/":
            continue
        pb = os.fsencode(prefix)
        match = (end[rows] - start[rows]) >= len(pb)
        for k in range(0, len(pb), 8):
            piece = pb[k:k + 8]
            want = _u(int.from_bytes(piece.ljust(8, b"\0"), "big"))
            got = words.word(start[rows] + k, start[rows] + k + len(piece))
            match &= got == want
        start[rows[match]] += len(pb)
        rows = rows[~match]


def _classify(paths: Paths, rules: CleanRules, root: Optional[Path], from_listing: bool) -> _Classified:
    """Every entry's reason code, in chunks of rows; only entries outside synset folders (usually
    none) are looked at one by one."""
    n = len(paths)
    words = Words(paths.data)
    start = paths.offsets[:-1].copy()
    end = paths.end
    code = np.zeros(n, np.int8)
    in_synset = np.zeros(n, bool)
    prefixed = np.zeros(n, bool)
    synset = np.zeros(n, np.uint64)
    low6 = _u((1 << 48) - 1)

    def chunk(a: int) -> None:
        b = min(n, a + _CHUNK)
        s, e = start[a:b], end[a:b]  # views: stripping moves start
        s += 2 * ((paths.data[s] == ord(".")) & (paths.data[s + 1] == ord("/")) & (e - s >= 2))  # "./"
        if root is not None:
            absolute = np.flatnonzero(paths.data[s] == ord("/"))
            if len(absolute):
                _strip_root(words, s, e, absolute, root)
        length = e - s
        h = words.head(s, e)  # bytes 0..31 of every row
        A, B, C = h[:, 0], h[:, 1], h[:, 2]
        digits = (A << _u(8)) | (B >> _u(56))  # bytes 1..8
        cand = ((A >> _u(56)) == ord("n")) & (((B >> _u(48)) & _u(0xFF)) == ord("/")) & all_digits(digits)
        in_synset[a:b] = cand
        synset[a:b] = digits
        # "<synset>_": bytes 10..15 equal bytes 0..5, and bytes 16..19 equal bytes 6..8 then "_"
        prefixed[a:b] = (length >= 20) & ((B & low6) == (A >> _u(16))) & (
            (C >> _u(32)) == (((A & _u(0xFFFF)) << _u(16)) | (((B >> _u(56)) & _u(0xFF)) << _u(8)) | _u(ord("_"))))
        hidden = ((B >> _u(40)) & _u(0xFF)) == ord(".")
        h[:, 0] = 0
        h[:, 1] &= low6  # from byte 10 on: the file name
        nested = contains_byte(words, s, e, ord("/"), head=h)
        last8 = np.where(length >= 8, words.word(np.maximum(e - 8, s), e),
                         A >> (_u(8) * (_u(8) - np.clip(length, 1, 8).astype(np.uint64))))
        image = np.zeros(b - a, bool)
        for ext in rules.extensions:
            image |= suffix_is(last8, length, ext)
        c = code[a:b]
        c[~cand] = -1  # looked at below
        c[cand & nested] = _CODE["nested"]
        c[cand & ~nested & (~image | hidden)] = _CODE["not_image"]

    with ThreadPoolExecutor(_THREADS) as pool:  # numpy releases the GIL in the gathers and ufuncs
        list(pool.map(chunk, range(0, n, _CHUNK)))

    bad = paths.not_utf8()
    if bad is not None:
        code[bad] = _CODE["not_utf8"]
        in_synset &= ~bad

    not_synset, folder_lines = set(), 0
    for i in np.flatnonzero(code == -1):
        b = bytes(paths.data[start[i]:end[i]])
        if b"/" not in b:
            if b in (b"", b".") or (from_listing and SYNSET.fullmatch(b)):
                code[i] = _CODE["folder_line"]  # a folder's own line, as `find .` without -type f writes them
                folder_lines += 1
            else:
                code[i] = _CODE["outside_class_folder"]
        elif b.startswith(b"/"):
            code[i] = _CODE["absolute_path"]
        else:
            code[i] = _CODE["not_synset"]
            not_synset.add(_decode(b.split(b"/", 1)[0]))
    return _Classified(start=start, end=end, code=code, in_synset=in_synset, synset=synset, prefixed=prefixed,
                       not_synset=sorted(not_synset), folder_lines=folder_lines)


def _decode(b: bytes) -> str:
    return b.decode("utf-8", "backslashreplace")


def _synset_name(digits: int) -> str:
    return "n" + int(digits).to_bytes(8, "big").decode("ascii")


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
    paths = listing.paths
    n = len(paths)
    cl = _classify(paths, rules, listing.root, from_listing=listing.folders is None)
    code, start, end = cl.code, cl.start, cl.end
    words = Words(paths.data)
    phase("classified")

    detail: Dict[int, str] = {}
    if exclude is not None and len(exclude):
        candidates = np.flatnonzero(code == 0)
        stripped = paths.take(candidates, start)
        hit = candidates[_to_np(pc.is_in(stripped, value_set=exclude.column("path").cast(pa.large_binary())))]
        why = {row["path"]: (row["reason"], row["detail"]) for row in exclude.to_pylist()}
        for i in hit:
            reason, text = why[_decode(bytes(paths.data[start[i]:end[i]]))]
            code[i] = _CODE[reason]
            detail[int(i)] = text

    # synsets in sorted order (big-endian ASCII digits sort as the names do): every entry's group
    found = pc.dictionary_encode(pa.array(cl.synset[cl.in_synset]))
    cl.synset = None
    digits = _to_np(found.dictionary)
    by_name = np.argsort(digits)
    rank = np.empty(len(digits), np.int32)
    rank[by_name] = np.arange(len(digits))
    synsets = [_synset_name(d) for d in digits[by_name]]
    group = np.full(n, -1, np.int32)
    group[cl.in_synset] = rank[_to_np(found.indices)]
    del found

    # sort the images by (synset, file name); skip the "<synset>_" that starts every name of most classes
    rows = np.flatnonzero(code == 0)
    g = group[rows]
    skip = np.where(np.bincount(g[~cl.prefixed[rows]], minlength=len(synsets)) == 0, _SYNSET_LEN + 1, 0)
    pos = start[rows] + _SYNSET_LEN + 1 + skip[g]
    cl.prefixed = None
    order, dup = sort_rows(g, pos, end[rows], words, threads=_THREADS)
    del g, pos
    sorted_rows = rows[order]
    del rows, order
    code[sorted_rows[dup]] = _CODE["duplicate"]
    sorted_rows = sorted_rows[~dup]
    sg = group[sorted_rows]
    del dup
    phase("sorted")

    counts = np.bincount(sg, minlength=len(synsets))
    seen = counts > 0
    keep = rules.keeps(counts)
    not_synset = sorted(set(cl.not_synset) | ({f for f in listing.folders if not SYNSET.fullmatch(os.fsencode(f))}
                                             if listing.folders is not None else set()))
    if not seen.any():
        raise DataError(_nothing_found_message(listing, cl, not_synset))
    if not keep.any():
        raise DataError(f"{listing.source}: no class is kept by the rule '{rules.describe()}' "
                        f"({int(seen.sum()):,} classes, the largest with {int(counts.max()):,} images)")

    label_of = np.cumsum(keep) - 1
    kept_mask = keep[sg]
    krows, klabel = sorted_rows[kept_mask], label_of[sg[kept_mask]].astype(np.int32)
    del sorted_rows, sg, kept_mask
    kcounts = counts[keep]
    kstart = np.concatenate([[0], np.cumsum(kcounts)[:-1]])
    kept_synsets = [s for s, k in zip(synsets, keep) if k]
    is_val = _select_val(klabel, kcounts, kstart, kept_synsets, rules)

    synset_strings = pa.array(kept_synsets, pa.string())

    def manifest(sel: np.ndarray) -> pa.Table:
        labels = pa.array(klabel[sel])
        return pa.table({"path": _as_string(paths.take(krows[sel], start)), "label": labels,
                         "synset": synset_strings.take(labels)})

    train, val = manifest(~is_val), manifest(is_val)
    phase("manifests built")
    n_val = np.bincount(klabel[is_val], minlength=len(kept_synsets))
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

    rejected = _rejected_table(paths, cl, detail, listing.problems)
    stats = _stats(listing, rules, n, counts, seen, keep, train, val, rejected, empty, not_synset, cl.folder_lines)
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


def _as_string(b: pa.ChunkedArray) -> pa.ChunkedArray:
    """Large binary as ``string`` (int32 offsets: what readers expect), chunk by chunk; the chunks are < 2 GiB."""
    return pa.chunked_array([c.cast(pa.large_string()).cast(pa.string()) for c in b.chunks], pa.string())


def _rejected_table(paths: Paths, cl: _Classified, detail: Dict[int, str],
                    problems: Tuple[Tuple[str, str, str], ...]) -> pa.Table:
    idx = np.flatnonzero((cl.code != 0) & (cl.code != _CODE["folder_line"]))
    texts = [_decode(bytes(paths.data[cl.start[i]:cl.end[i]])) for i in idx]
    table = pa.table({"path": pa.array(texts + [x[0] for x in problems], pa.string()),
                      "reason": pa.array(list(_REASON_OF[cl.code[idx]]) + [x[1] for x in problems], pa.string()),
                      "detail": pa.array([detail.get(int(i), "") for i in idx] + [x[2] for x in problems],
                                         pa.string())})
    return table.take(pc.sort_indices(table, sort_keys=[("path", "ascending"), ("reason", "ascending")]))


def _nothing_found_message(listing: Listing, cl: _Classified, not_synset: List[str]) -> str:
    found = np.bincount(cl.code, minlength=len(_REASON_OF))
    why = [f"{int(found[c]):,} {_REASON_OF[c]}" for c in np.flatnonzero(found)]
    if not_synset:
        why.append(f"folders not named by a synset: {_examples(not_synset, 3)}")
    if listing.problems:
        why.append(f"not listed: {_examples([p for p, _, _ in listing.problems], 3)}")
    first = [_decode(bytes(listing.paths.data[cl.start[i]:cl.end[i]])) for i in range(min(3, len(listing)))]
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
