"""``editrepro check-data``: decode every sample of a dataset once, on all cores, and list the bad ones.

Training replaces an unreadable sample and counts it (``--max-bad-samples``); this finds them all
before a job does. Every sample of the splits is read as the job's reader reads it (the image
decoded to RGB, an ADE20K mask with it); the failures go to a TSV (``path``, ``split``, ``error``),
like ``clean-in21k --verify``'s ``corrupt.tsv``. Exit status 0 when every sample reads, 1 when
some do not.
"""
import argparse

HELP = "decode every sample of a dataset once (all cores) and write the unreadable ones to a TSV"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="dataset name (editrepro.data.DATASETS)")
    p.add_argument("--data-root", required=True, help="the dataset's root folder")
    p.add_argument("--split", nargs="+", default=["train", "val"], help="splits to read (default: train val)")
    p.add_argument("--data-option", action="append", default=[], metavar="KEY=VALUE", help="reader option (repeatable)")
    p.add_argument("--workers", type=int, default=None, help="decoding processes (default: all cores)")
    p.add_argument("--out", default="bad_samples.tsv", help="TSV of the unreadable samples (default: bad_samples.tsv)")


def run(args: argparse.Namespace) -> int:
    import os

    from torch.utils.data import DataLoader, Dataset
    from tqdm import tqdm

    from ..data import build_dataset
    from ..data.bad_samples import failure_note
    from ..fileio import atomic_write_text
    from ..recipes import parse_overrides

    class Decode(Dataset):
        """The note of one sample: '' when it reads, else its name and the error."""

        def __init__(self, data):
            self.data = data

        def __len__(self):
            return len(self.data)

        def __getitem__(self, i):
            try:
                self.data[i]
                return ""
            except Exception as e:  # noqa: BLE001  (any reader's or decoder's failure is what we look for)
                return failure_note(self.data, i, e)

    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    options = parse_overrides(args.data_option)
    rows, total = [], 0
    for split in args.split:
        data = build_dataset(args.dataset, args.data_root, split, **options)
        total += len(data)
        loader = DataLoader(Decode(data), batch_size=None, num_workers=workers, collate_fn=lambda x: x)
        for note in tqdm(loader, total=len(data), desc=f"{args.dataset} {split}", mininterval=1.0):
            if note:
                name, _, error = note.partition("\t")
                rows.append(f"{name}\t{split}\t{error}")
    atomic_write_text(args.out, "path\tsplit\terror\n" + "".join(r + "\n" for r in rows))
    print(f"{args.dataset}: {len(rows)} of {total} samples cannot be read; wrote {args.out}")
    return 1 if rows else 0
