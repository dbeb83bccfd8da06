"""Run by tests in a subprocess: a job with a checkpoint after every step that SIGKILLs itself at a sample;
argv: output_dir kill_at."""
import sys

from synthetic import Synthetic, job

from editrepro.training.trainer import train

out, kill_at = sys.argv[1], int(sys.argv[2])
cfg = job(out, epochs=2, checkpoint_every=1e-6)      # minutes: every step is due
train(cfg, datasets=(Synthetic(96, kill_at=kill_at), Synthetic(32, seed=1)))
