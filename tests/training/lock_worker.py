"""Run by tests in a subprocess: a short job whose samples load slowly, so it holds its folder's lock for a few
seconds; argv: output_dir."""
import sys
import time

from synthetic import Synthetic, job

from editrepro.training.trainer import train


class Slow(Synthetic):
    def __getitem__(self, i):
        time.sleep(0.02)
        return super().__getitem__(i)


train(job(sys.argv[1], epochs=2), datasets=(Slow(32), Synthetic(16, seed=1)))
