"""Sample seeds do not depend on how many processes share an epoch: what one process draws for each image of an
epoch is what the ranks of a two- or four-process job draw for it (so their weights can match, tests/training and the
multi-node Slurm test)."""
import pytest

from editrepro.runtime.sampling import ResumableSampler, mix_seed


@pytest.mark.parametrize("world", [2, 4])
def test_each_image_gets_the_seed_one_process_gives_it(world):
    n, seed, epoch = 24, 7, 3             # 24 images: every rank gets whole steps, no padding
    one = ResumableSampler(n, seed)
    one.set_epoch(epoch)
    single = list(one)
    assert single[5][1] == mix_seed(seed, epoch, 0, 5)      # one process: the seed of its position, as before
    ranks = []
    for rank in range(world):
        sampler = ResumableSampler(n, seed, rank=rank, world_size=world)
        sampler.set_epoch(epoch)
        ranks.append(list(sampler))
    # step k of the job: rank r's k-th sample is the single process's sample k x world + r, seed included
    merged = [ranks[r][k] for k in range(n // world) for r in range(world)]
    assert merged == single


def test_a_resumed_rank_continues_with_the_same_seeds():
    sampler = ResumableSampler(24, 1, rank=1, world_size=2)
    sampler.set_epoch(0)
    full = list(sampler)
    sampler.set_epoch(0, start=5)
    assert list(sampler) == full[5:]
