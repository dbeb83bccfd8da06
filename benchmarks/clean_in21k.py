"""Benchmark: ``editrepro clean-in21k`` on a full-size synthetic ImageNet-21k listing.

Writes a listing shaped like fall11 (14,197,122 files in 21,841 synset folders; 10,450 classes
above 500 images holding ~11.6M of them, a long tail of small classes, some of exactly 500, the
largest ~3k; file names ``n01440764_10026.JPEG``; a few non-images), in ``find`` order (folders
in directory-hash order, files unsorted inside) or fully shuffled. Then runs the real command,
listing to manifests, in a child process, and reports its wall time and peak resident memory
(``wait4``'s ``ru_maxrss`` of that child alone), next to the cost of merely starting the command
(the command line alone: ``import editrepro`` leaves torch and timm out). The manifests' counts are checked against the sizes
that were generated.

    python benchmarks/clean_in21k.py                       # find order, budget 60 s and 4 GiB
    python benchmarks/clean_in21k.py --order shuffled      # worst case for locality
    python benchmarks/clean_in21k.py --rows 1000000 --classes 2000   # a quick look

Exit status 1 when the run is over --max-seconds or --max-gib.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

HERE = Path(__file__).resolve().parent


def class_sizes(rng: np.random.Generator, rows: int, classes: int) -> np.ndarray:
    """Long-tailed sizes: ~48% of classes above 500 holding ~82% of the images, 30 at exactly 500."""
    n_big = round(classes * 10_450 / 21_841)
    n_exact = min(30, classes - n_big)
    n_small = classes - n_big - n_exact
    big = 501 + rng.gamma(1.2, 500, n_big)                     # 501 .. ~3000, mean ~1100
    small = 1 + rng.beta(0.8, 1.0, n_small) * 498               # 1 .. 499, many small ones
    target_big = rows * 0.8155 - 500 * n_exact                  # fall11: ~11.6M of 14.2M in kept classes
    big = 501 + (big - 501) * max(0.0, target_big - 501 * n_big) / max(1.0, (big - 501).sum())
    big = np.minimum(np.round(big), 3000).astype(np.int64)
    small = np.round(small * max(1.0, rows - big.sum() - 500 * n_exact) / small.sum()).astype(np.int64)
    sizes = np.concatenate([big, np.full(n_exact, 500), np.clip(small, 1, 499)])
    # land exactly on `rows`: take from or give to the largest classes, keeping them above 500
    diff = rows - int(sizes.sum())
    order = np.argsort(-sizes)
    k = 0
    while diff:
        i = order[k % n_big]
        step = max(diff, 501 - sizes[i]) if diff < 0 else min(diff, 3000 - sizes[i])
        sizes[i] += step
        diff -= step
        k += 1
        if k > 10 * classes:
            raise ValueError("cannot land on the requested number of rows with these class counts")
    rng.shuffle(sizes)
    return sizes


def write_listing(path: Path, sizes: np.ndarray, rng: np.random.Generator, order: str) -> int:
    """``./nXXXXXXXX/nXXXXXXXX_ID.JPEG`` lines; IDs unique per class, like ImageNet's (1 to ~6 digits)."""
    classes = len(sizes)
    synsets = np.sort(rng.choice(np.arange(1_740, 15_300_000), classes, replace=False))
    names = pa.array([f"n{s:08d}" for s in synsets])
    cls = np.repeat(np.arange(classes, dtype=np.int32), sizes)
    gaps = rng.integers(1, 8, len(cls))
    ids = np.cumsum(gaps)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    ids -= np.repeat(ids[starts] - gaps[starts], sizes)          # restart each class at its first gap
    if order == "find":  # folders in a pseudo-random (hash) order, files unsorted inside each
        folder_rank = rng.permutation(classes)
        perm = np.lexsort((rng.random(len(cls)), folder_rank[cls]))
    else:
        perm = rng.permutation(len(cls))
    cls, ids = cls[perm], ids[perm]
    syn = names.take(pa.array(cls))
    lines = pc.binary_join_element_wise(pa.scalar("."), syn, pc.binary_join_element_wise(
        syn, pc.cast(pa.array(ids), pa.string()), "_"), "/")
    lines = pc.binary_join_element_wise(lines, pa.scalar(".JPEG"), "")
    extra = pa.array([f"./{names[i].as_py()}/notes_{k}.txt" for k, i in enumerate(rng.integers(0, classes, 20))])
    table = pa.table({"path": pa.concat_arrays([lines.combine_chunks() if isinstance(lines, pa.ChunkedArray)
                                                else lines, extra])})
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return len(table)


def make_tree(root: Path, files: int, per_folder: int = 650) -> int:
    """Empty ``nXXXXXXXX/nXXXXXXXX_ID.JPEG`` files, ``per_folder`` to a synset folder."""
    made = 0
    for k in range(0, files, per_folder):
        folder = root / f"n{10_000_000 + k:08d}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(min(per_folder, files - k)):
            os.close(os.open(folder / f"{folder.name}_{i}.JPEG", os.O_CREAT | os.O_WRONLY, 0o644))
            made += 1
    return made


def wait4_run(cmd, env) -> dict:
    """Wall time, CPU time and peak RSS of one child process (its own ``wait4`` usage)."""
    t0 = time.perf_counter()
    out = tempfile.TemporaryFile()
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    return {"seconds": seconds, "peak_gib": usage.ru_maxrss / 2 ** 20, "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "returncode": proc.returncode, "stdout": out.read().decode(), "stderr": err.read().decode()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=14_197_122, help="files in the listing (default: fall11's)")
    parser.add_argument("--classes", type=int, default=21_841, help="synset folders (default: fall11's)")
    parser.add_argument("--order", choices=["find", "shuffled"], default="find")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder, removed after")
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--max-gib", type=float, default=4.0)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--scan-tree", type=int, default=0, metavar="FILES",
                        help="also time a scan (--root) of a real tree of this many empty files (default: skip)")
    parser.add_argument("--generate-into", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.generate_into:  # the child that writes the listing (see below)
        rng = np.random.default_rng(args.seed)
        sizes = class_sizes(rng, args.rows, args.classes)
        np.save(args.generate_into.with_suffix(".sizes.npy"), sizes)
        t0 = time.perf_counter()
        n_lines = write_listing(args.generate_into, sizes, rng, args.order)
        print(f"listing: {n_lines:,} lines ({args.generate_into.stat().st_size / 2 ** 20:.0f} MiB, {args.order} "
              f"order), {len(sizes):,} classes, {(sizes > 500).sum():,} above 500, {(sizes == 500).sum()} at "
              f"exactly 500, largest {sizes.max():,}; written in {time.perf_counter() - t0:.1f} s")
        return 0

    tmp = tempfile.TemporaryDirectory(prefix="clean_in21k_bench_") if args.workdir is None else None
    work = Path(tmp.name) if tmp else args.workdir
    work.mkdir(parents=True, exist_ok=True)
    listing = work / f"in21k_{args.order}_{args.rows}_{args.classes}_{args.seed}.txt"
    if not listing.exists():
        # generated in a child: a forked child's ru_maxrss counts its parent's memory up to exec, so
        # the process that spawns the measured runs must stay small
        subprocess.run([sys.executable, __file__, "--generate-into", str(listing), "--rows", str(args.rows),
                        "--classes", str(args.classes), "--order", args.order, "--seed", str(args.seed)], check=True)
    sizes = np.load(listing.with_suffix(".sizes.npy"))
    n_lines = sum(1 for _ in open(listing, "rb"))
    print(f"listing {listing.name}: {n_lines:,} lines ({listing.stat().st_size / 2 ** 20:.0f} MiB), "
          f"{len(sizes):,} classes, {(sizes > 500).sum():,} above 500, {(sizes == 500).sum()} at exactly 500, "
          f"largest {sizes.max():,}, median {int(np.median(sizes))}")

    src = str(HERE.parent / "src")
    env = dict(os.environ, PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", ""))
    startup = wait4_run([sys.executable, "-c", "import editrepro.cli; editrepro.cli.build_parser()"], env)
    out = work / "out"
    cmd = [sys.executable, "-m", "editrepro", "-v", "clean-in21k", "--listing", str(listing), "--out", str(out),
           "--no-progress"]
    run = wait4_run(cmd, env)
    if run["returncode"] != 0:
        print(run["stderr"][-3000:], file=sys.stderr)
        return 1
    stats = json.loads((out / "stats.json").read_text())
    kept = sizes > 500
    expected = {"classes": int(kept.sum()), "val": 50 * int(kept.sum()),
                "train": int(sizes[kept].sum()) - 50 * int(kept.sum())}
    got = {"classes": stats["classes"]["kept"], "val": stats["images"]["val"], "train": stats["images"]["train"]}
    phases = [line.split(": ", 2)[-1] for line in run["stderr"].splitlines() if " in " in line and "resident" in line]
    figures = {
        "rows": n_lines, "classes": len(sizes), "order": args.order,
        "seconds": round(run["seconds"], 2), "cpu_seconds": round(run["cpu_seconds"], 2),
        "peak_gib": round(run["peak_gib"], 3), "rows_per_second": round(n_lines / run["seconds"]),
        "rows_per_second_after_startup": round(n_lines / max(1e-9, run["seconds"] - startup["seconds"])),
        "startup_seconds": round(startup["seconds"], 2), "startup_peak_gib": round(startup["peak_gib"], 3),
        "counts_ok": got == expected, "counts": got, "load_average": os.getloadavg(), "cpus": os.cpu_count(),
    }
    print(f"clean-in21k, listing -> manifests: {figures['seconds']:.1f} s wall ({figures['cpu_seconds']:.1f} s CPU), "
          f"peak {figures['peak_gib']:.2f} GiB, {figures['rows_per_second']:,} rows/s")
    print(f"  of which starting the command (no torch or timm): {figures['startup_seconds']:.1f} s, "
          f"{figures['startup_peak_gib']:.2f} GiB; {figures['rows_per_second_after_startup']:,} rows/s after it")
    for p in phases:
        print("  " + p)
    print(f"  counts {'match' if figures['counts_ok'] else 'DO NOT match'} the generated sizes: {got}")
    print(f"  load average {', '.join(f'{x:.1f}' for x in figures['load_average'])} on {figures['cpus']} CPUs")
    if args.scan_tree:
        tree = work / f"tree_{args.scan_tree}"
        if not tree.exists():
            t0 = time.perf_counter()
            make_tree(tree, args.scan_tree)
            print(f"tree: {args.scan_tree:,} empty files made in {time.perf_counter() - t0:.1f} s")
        subprocess.run(["sync"], check=False)
        scan = wait4_run([sys.executable, "-m", "editrepro", "clean-in21k", "--root", str(tree), "--out",
                          str(work / "out_tree"), "--no-progress"], env)
        if scan["returncode"] != 0:
            print(scan["stderr"][-3000:], file=sys.stderr)
            return 1
        figures["scan"] = {"files": args.scan_tree, "seconds": round(scan["seconds"], 2),
                           "peak_gib": round(scan["peak_gib"], 3),
                           "files_per_second": round(args.scan_tree / max(1e-9, scan["seconds"] - startup["seconds"]))}
        print(f"clean-in21k --root on a tree of {args.scan_tree:,} files (page cache warm): {scan['seconds']:.1f} s "
              f"wall, peak {scan['peak_gib']:.2f} GiB; ~{figures['scan']['files_per_second']:,} files/s after start-up")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if tmp:
        tmp.cleanup()
    over = figures["seconds"] > args.max_seconds or figures["peak_gib"] > args.max_gib
    if over or not figures["counts_ok"]:
        print(f"FAIL: budget {args.max_seconds:.0f} s / {args.max_gib:.0f} GiB, counts ok: {figures['counts_ok']}")
        return 1
    print(f"OK: within {args.max_seconds:.0f} s and {args.max_gib:.0f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
