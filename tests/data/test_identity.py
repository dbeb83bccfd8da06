"""A dataset's digest names its manifest: the same for the same files and labels, another otherwise."""
from editrepro.data import build_dataset
from editrepro.data.identity import dataset_digest


def test_digest_follows_the_manifest(demo):
    train = build_dataset("imagenet1k", demo["imagenet1k"], "train")
    assert dataset_digest(train) == dataset_digest(build_dataset("imagenet1k", demo["imagenet1k"], "train"))
    assert dataset_digest(train) != dataset_digest(build_dataset("imagenet1k", demo["imagenet1k"], "val"))
    relabelled = build_dataset("imagenet1k", demo["imagenet1k"], "train")
    relabelled.targets = relabelled.targets[::-1].copy()
    assert dataset_digest(relabelled) != dataset_digest(train)
    assert len(dataset_digest(train)) == 64
