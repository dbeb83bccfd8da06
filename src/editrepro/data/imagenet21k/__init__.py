"""ImageNet-21K-P: the reference cleaning of ImageNet-21k, as manifests instead of moved files.

The EDIT paper pretrains on the ImageNet-21k of Alibaba-MIIL's "ImageNet-21K pretraining for the
masses" (``dataset_preprocessing/processing_script.sh``): every class with **not more than 500**
images is moved away (exactly 500 is dropped, although the paper says "fewer than 500"), then the
**first 50** images of each kept class in ``ls`` order become the validation set. On winter21 that
gives 10,450 classes, 11,060,223 train and 522,500 val images; on fall11 11,221 classes,
11,797,632 train and 561,052 val. This module reproduces those rules without copying or moving a
single image: it writes manifests, and can then materialise an ImageFolder tree of symlinks or a
resized copy.

One module per step: ``rules`` (the rules, file names, rejection reasons), ``listing`` (scan or
read a listing), ``cleaning`` (classify, threshold, split), ``outputs`` (write and read the
manifests), ``materialise`` (verify, symlink tree, resize), ``forms`` (the processed release read
directly, ``index_processed``; a resized copy of the cleaned release with its manifests,
``resize_manifests``: the same manifests on the same images in every form).

Pipeline (each step a function; ``editrepro clean-in21k`` runs them in order)::

    listing = list_tree(root)            # or read_listing("files.txt", root=root)
    result = clean(listing, CleanRules())  # one Polars pass: 14.2M entries in seconds
    write_outputs(result, "data/in21k")  # or prepare(listing, rules, out, verify=True)
    materialise_symlinks(result.splits, root, "data/in21k/tree")   # optional
    resize_tree(result.splits, root, "data/in21k/224", mode="squish", size=224)  # optional

Outputs of ``write_outputs`` (every file written atomically; ``stats.json`` last):

============================  ================================================================
``train.parquet``,            one row per image, sorted by (label, file name byte-wise):
``val.parquet``               ``path`` (str, relative to the root: ``n01440764/n01440764_10026.JPEG``),
                              ``label`` (int32, class index 0..K-1 in sorted synset order),
                              ``synset`` (str, ``n01440764``). The Parquet key-value metadata
                              ``editrepro`` holds JSON with ``split``, ``num_classes`` and ``rules``.
``classes.tsv``               the K kept classes: ``label``, ``synset``, ``images``, ``train``, ``val``
``dropped_classes.tsv``       ``synset``, ``images``: the classes under the threshold
``rejected.tsv``              ``path``, ``reason``, ``detail``: every entry that is not an image of a
                              synset folder (reasons in ``REASONS``)
``corrupt.tsv``               ``path``, ``reason``, ``detail``: images ``--verify`` could not decode
                              (only written by a verified run)
``stats.json``                ``root`` (absolute, or null for a listing given without one), the
                              rules, and every count: classes seen/kept/dropped/empty, images per
                              split, the counts at the threshold and by how many classes the two
                              readings of it differ, rejected entries per reason, verification
============================  ================================================================

A reader finds image ``i`` of a split at ``Path(root) / path``, with ``root`` from
``stats.json`` (``manifest_root(out)``) or given explicitly. In a tree made by
``materialise_symlinks`` or ``resize_tree`` the root of split ``S`` is ``DIR/S``
(``DIR/S/<synset>/<file>``), which is also a torchvision ``ImageFolder`` with the same labels.
Manifests whose splits have roots of their own (the processed release's ``imagenet21k_train/``
and ``imagenet21k_val/``, a resized copy's ``train/`` and ``val/``) record them in
``stats.json`` under ``roots`` (``manifest_root(out, split)``).

Conventions fixed here, each the reference's unless said otherwise:

- A class is a folder directly under the root named by a WordNet synset (``n`` + 8 digits); its
  images are the files directly inside it whose extension is in ``CleanRules.extensions``
  (``.jpeg .jpg .png``, any case; the reference counts ``*.JPEG`` only, which on ImageNet-21k is
  the same set). Hidden files (``.DS_Store``, ``._x.JPEG``) are not images.
- "Sorted order" is byte-wise (``LC_ALL=C ls``). The reference ran ``ls`` in an unknown locale;
  a locale that collates punctuation differently could pick other first-50 images (never other
  counts).
- The same input gives byte-identical manifests, whatever the order of the listing.
"""
from . import cleaning, forms, listing, materialise, outputs, rules  # noqa: F401  (one module per step)
from .cleaning import CleanResult, clean
from .forms import (DEFAULT_SIZE, PROCESSED_SPLITS, RESIZE_MODES, check_processed_layout, index_processed,
                    release_of, resize_manifests)
from .listing import Listing, list_tree, read_listing
from .materialise import materialise_symlinks, resize_tree, verify_images
from .outputs import manifest_root, prepare, read_manifest, write_failed, write_outputs
from .rules import KNOWN_RELEASES, REASONS, STATS, CleanRules, DataError

__all__ = [
    "CleanRules", "Listing", "CleanResult", "DataError", "REASONS", "KNOWN_RELEASES",
    "list_tree", "read_listing", "clean", "write_outputs", "prepare", "verify_images",
    "materialise_symlinks", "resize_tree", "write_failed", "read_manifest", "manifest_root", "STATS",
    "PROCESSED_SPLITS", "RESIZE_MODES", "DEFAULT_SIZE", "check_processed_layout", "index_processed", "release_of",
    "resize_manifests",
]
