"""Sampling that makes every step's randomness a function of (seed, epoch, position).

Each sample's augmentation is drawn from its own seed (``SeededDataset``), derived from
the run seed, the epoch and the sample's position in that epoch's one global order (rank r's
position p is position p x world_size + r of it, as the samplers interleave it), so the images
a step sees do not depend on workers, on what ran before, on a restart, or on how many processes
share the epoch: one process and N see the same crops and flips of the same images.
``ResumableSampler`` yields ``(index, seed)`` pairs and can start mid-epoch, which is what
lets a killed job resume at the exact step it stopped at.
"""
import random
from typing import Iterator, List, Tuple

import numpy as np
import torch
from timm.data.distributed_sampler import RepeatAugSampler
from torch.utils.data import Dataset, DistributedSampler, Sampler

__all__ = ["mix_seed", "seed_all", "SeededDataset", "ResumableSampler", "epoch_indices", "sampler_for_eval"]

_MASK = (1 << 63) - 1


def mix_seed(*parts: int) -> int:
    """A 63-bit seed from integers (SplitMix64 steps), stable across processes and versions."""
    x = 0x9E3779B97F4A7C15
    for p in parts:
        x = (x ^ (int(p) & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        x = (x ^ (x >> 31)) * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 29
    return x & _MASK


def seed_all(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class SeededDataset(Dataset):
    """Calls the wrapped dataset with all global RNGs seeded from the sample's own seed."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: Tuple[int, int]):
        index, seed = key
        seed_all(seed)
        return self.dataset[index]


def epoch_indices(n: int, epoch: int, seed: int, rank: int, world_size: int, shuffle: bool = True,
                  repeats: int = 1) -> List[int]:
    """This rank's sample order for ``epoch``, from the samplers the references use.

    ``repeats`` > 1 is timm's ``RepeatAugSampler`` (identical to DeiT III's RASampler: each
    image ``repeats`` times per epoch on different ranks, the epoch cut to a multiple of
    256); otherwise torch's ``DistributedSampler`` (one rank: a seeded permutation).
    """
    if repeats > 1:
        sampler = RepeatAugSampler(range(n), num_replicas=world_size, rank=rank, shuffle=shuffle,
                                   num_repeats=repeats)
    else:
        sampler = DistributedSampler(range(n), num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed)
    sampler.set_epoch(epoch)
    return list(sampler)


class ResumableSampler(Sampler):
    """Yields ``(index, sample_seed)`` for one epoch on one rank, optionally skipping a prefix.

    Call ``set_epoch(epoch, start=k)`` before iterating; ``start`` counts samples of this
    rank already consumed in that epoch (a resumed job sets it from its checkpoint).
    """

    def __init__(self, num_samples: int, seed: int, rank: int = 0, world_size: int = 1,
                 shuffle: bool = True, repeats: int = 1):
        if num_samples < 1:
            raise ValueError("ResumableSampler needs a non-empty dataset")
        self.num_samples, self.seed, self.rank, self.world_size = num_samples, seed, rank, world_size
        self.shuffle, self.repeats = shuffle, repeats
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def _order(self) -> List[int]:
        return epoch_indices(self.num_samples, self.epoch, self.seed, self.rank, self.world_size,
                             self.shuffle, self.repeats)

    def epoch_length(self) -> int:
        """Samples this rank sees in the whole epoch (``start`` not subtracted)."""
        return len(self._order())

    def __len__(self) -> int:
        return max(0, self.epoch_length() - self.start)

    def __iter__(self) -> Iterator[Tuple[int, int]]:
        order = self._order()
        for position in range(self.start, len(order)):
            # world-size invariant: rank r's position p is position p * world + r of one process's order
            yield order[position], mix_seed(self.seed, self.epoch, 0, position * self.world_size + self.rank)


def sampler_for_eval(n: int, rank: int, world_size: int) -> List[int]:
    """Every index exactly once across ranks (no padding), so summed counts give exact metrics."""
    return list(range(rank, n, world_size))
