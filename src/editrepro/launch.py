"""How a training job starts its processes, from its ``gpu`` and ``nodes`` resources and ``compute.launcher``.

Torch-free and stdlib-only at import: the workflow imports it to plan (``workflow/rules/common.smk``).

- one process (``gpu`` 0 or 1, one node, launcher ``auto``): ``editrepro``;
- several GPUs on one node (launcher ``auto``): ``torchrun --standalone --nproc_per_node=<gpu> -m editrepro``,
  inside the one task the Slurm plugin's job step starts (``srun -n1``);
- several nodes, or any job with ``compute.launcher: srun``: the job starts its own tasks. ``srun`` runs one
  torchrun agent per node (``--whole``: each task holds all the CPUs and GPUs the job has on its node), the
  agents meet by c10d rendezvous on the batch host (the first node of the allocation, where the job's command
  runs) and each starts ``gpu / nodes`` workers: world size = ``gpu``. For this the rule gives the Slurm plugin
  its ``mpi`` resource (``launch_resources``), which makes the plugin's job step run the command as it is instead
  of inside its own one-task ``srun`` (in which a nested ``srun`` would wait for resources its parent holds).

Each agent runs under ``python -m editrepro.launch agent`` (``agent``): Slurm signals every process of a step
(USR1 before the time limit, ``--signal=USR1@600``), and torchrun's agent would die of USR1 (its default action)
and take its workers down before they checkpoint. The wrapper ignores USR1, which the workers inherit and replace
with the trainer's handler, so each worker gets the signal, and it exits with the workers' own code (75 after a
preemption checkpoint, 5 for a locked folder, ...) where torchrun exits 1 for any failure.
docs/slurm.md has what the plugin and its job step add to ``sbatch`` and ``srun`` for each kind of job.
"""
import os
import signal
import sys
from typing import Dict, List, Optional, Union

__all__ = ["LAUNCHERS", "RDZV_PORT", "uses_srun", "launch_command", "launch_resources", "agent"]

LAUNCHERS = ("auto", "srun")
RDZV_PORT = 29500   # + the job id modulo 1000: two jobs sharing a first node do not meet in one store
EXIT_PREEMPTED = 75  # editrepro.training.trainer.EXIT_PREEMPTED (not imported: it brings torch)


def _check(gpus: int, nodes: int, launcher: str) -> None:
    if launcher not in LAUNCHERS:
        raise ValueError(f"compute.launcher: {launcher!r} is not one of {', '.join(LAUNCHERS)}")
    if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 1:
        raise ValueError(f"resources nodes={nodes!r}: must be an integer >= 1 (the profile's set-resources)")
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 0:
        raise ValueError(f"resources gpu={gpus!r}: must be an integer >= 0 (the profile's set-resources)")
    if nodes > 1 and (gpus < nodes or gpus % nodes):
        raise ValueError(f"resources gpu={gpus} over nodes={nodes}: gpu is the job's total, a multiple of nodes "
                         f"(gpu={nodes * max(gpus // nodes, 1)} is {max(gpus // nodes, 1)} per node)")


def uses_srun(gpus: int, nodes: int = 1, launcher: str = "auto") -> bool:
    """Whether the job starts its own tasks with ``srun`` (several nodes, or ``compute.launcher: srun``)."""
    _check(gpus, nodes, launcher)
    return nodes > 1 or launcher == "srun"


def launch_command(gpus: int, nodes: int = 1, launcher: str = "auto") -> str:
    """The command that starts ``editrepro`` for a job with ``gpus`` GPUs in all over ``nodes`` nodes.

    ``auto`` on one node keeps the single-node commands (``editrepro``, ``torchrun --standalone ...``); several
    nodes, or ``srun``, give ``srun`` with one torchrun agent per node and c10d rendezvous on the batch host.
    ``$SLURM_JOB_ID`` and ``$(hostname)`` are left to the job's shell."""
    if not uses_srun(gpus, nodes, launcher):
        if gpus > 1:
            return f"torchrun --standalone --nproc_per_node={gpus} -m editrepro"
        return "editrepro"
    per_node = max(gpus // nodes, 1)
    return (f"srun --whole --nodes={nodes} --ntasks-per-node=1 python -m editrepro.launch agent "
            f"--nnodes={nodes} --nproc_per_node={per_node} --rdzv_backend=c10d --rdzv_id=$SLURM_JOB_ID "
            f"--rdzv_endpoint=$(hostname):$(({RDZV_PORT} + SLURM_JOB_ID % 1000)) -m editrepro")


def launch_resources(gpus: int, nodes: int = 1, launcher: str = "auto") -> Dict[str, Union[int, str]]:
    """The resources the rule adds for the Slurm plugin (none when the job's step runs one process tree).

    A job that starts its own tasks carries ``mpi``: the job step (snakemake-executor-plugin-slurm-jobstep
    0.6.1, ``__init__.py`` L144) then runs its command without wrapping it in ``srun -n1``.
    Several nodes: ``mpi: srun`` with ``tasks: <nodes>`` (the plugin refuses an MPI job without tasks, and adds
    ``--ntasks=<nodes>`` to sbatch beside its ``--nodes=<nodes>``) and ``tasks_per_gpu: 0`` (otherwise a GPU
    job's ``tasks`` also becomes ``--ntasks-per-gpu=<tasks>``; 0 adds nothing).
    One node under ``compute.launcher: srun``: the plugin refuses ``tasks: 1`` for an MPI job
    (``submit_string.py`` L196), so ``mpi`` is present but empty: the job step tests the key's presence, the
    submission its truth, and the job keeps Slurm's one task on its one node."""
    if not uses_srun(gpus, nodes, launcher):
        return {}
    if nodes == 1:
        return {"mpi": ""}
    return {"mpi": "srun", "tasks": nodes, "tasks_per_gpu": 0}


def _exit_code(codes: List[int]) -> int:
    """The agent's exit code from its failed workers' codes: 75 when the workers were preempted (the job resumes),
    else the first other positive code, else 1 (a worker killed by a signal). Preempted: at least one exited 75
    and every other one too, or was ended by SIGTERM, which torchrun's agent sends a node's remaining workers as
    soon as one of them exits, so a sibling still on its way out after the same checkpoint shows -15."""
    if EXIT_PREEMPTED in codes and all(c in (EXIT_PREEMPTED, -signal.SIGTERM) for c in codes):
        return EXIT_PREEMPTED
    return next((c for c in codes if c > 0 and c != EXIT_PREEMPTED), 1)


def agent(argv: Optional[List[str]] = None) -> int:
    """One node's torchrun agent (``argv``: torchrun's arguments), started by ``srun`` once per node.

    USR1 is ignored here, before torchrun starts, and so in the workers until the trainer installs its handler;
    the agent survives Slurm's USR1 and the workers act on it. Exits 0, or the workers' code (``_exit_code``).
    A node whose ``CUDA_VISIBLE_DEVICES`` lists another number of GPUs than ``--nproc_per_node`` (``--gpus`` split
    unevenly over the nodes) is refused before any worker starts."""
    argv = list(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    per_node = next((a.split("=", 1)[1] for a in argv if a.startswith(("--nproc_per_node=", "--nproc-per-node="))),
                    None)
    if visible and per_node and per_node.isdigit() and len(visible.split(",")) != int(per_node):
        print(f"editrepro.launch: node {os.uname().nodename} has {len(visible.split(','))} GPU(s) "
              f"(CUDA_VISIBLE_DEVICES={visible}) for --nproc_per_node={per_node}: Slurm split the job's GPUs "
              "unevenly over its nodes; ask for whole nodes (resources gpu = nodes x GPUs per node)",
              file=sys.stderr)
        return 2
    # torch only here, on the node: planning imports this module without it
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    try:
        run(parse_args(argv))
    except ChildFailedError as e:
        codes = [f.exitcode for _, f in sorted(e.failures.items())]
        code = _exit_code(codes)
        print(f"editrepro.launch: workers exited {codes}: exit {code}", file=sys.stderr)
        return code
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "agent":
        print("usage: python -m editrepro.launch agent <torchrun arguments>", file=sys.stderr)
        return 2
    return agent(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
