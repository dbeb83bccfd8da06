"""What running a model on one or many devices needs, whatever the job: the layer under ``training``,
``detection``, ``segmentation`` and ``analysis``, which all import it and which it imports none of.

- ``distributed``: the process group from torchrun or Slurm, and the few collectives jobs need.
- ``sampling``: seeds and sample orders that make every step's randomness a function of (seed, epoch,
  position), and the exact split of an evaluation set over ranks.
- ``amp``: the mixed-precision dtype a job's ``amp`` setting selects on its device, and the autocast
  context that applies it.

Nothing is imported here: ``import editrepro.runtime.amp`` loads torch, ``import editrepro.runtime`` does not.
"""
