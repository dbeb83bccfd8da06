"""The workflow through a real Slurm (slurmctld + slurmd + munge) with fake GPUs.

Runs where the suite runs as root with apt available (CI); installs and starts Slurm,
submits demo jobs through the project's Slurm profile (its test variant: status by squeue,
no accounting), and stops the daemons by their PID files. Skipped elsewhere, saying why.

``pytest -k multinode``: a training job on two nodes. Debian's Slurm (slurm-wlm 22.05) runs two slurmd
daemons on one machine as two nodes: ``slurmd -N node1`` and ``slurmd -N node2``, each with its own ``Port``,
spool, log and PID file in ``slurm.conf`` (``%n`` in the paths) and one ``NodeHostname``/``NodeAddr``; no
FrontEnd nodes and no rebuild with ``--enable-multiple-slurmd`` are needed. So the test runs the real multi-node
path, not only ``compute.launcher: srun`` on one node: the plugin's sbatch asks for 2 nodes and 2 tasks, its job
step runs the rule's ``srun`` as it is (the ``mpi`` resource), ``srun`` starts one torchrun agent on each node
and they meet by c10d rendezvous; one fake GPU per node, gloo on CPU, world size 2.
"""
import json
import re
import shlex
import subprocess
import sys
import time

import pytest
import yaml
from conftest import job_stats, small_config, snakemake
from slurm_harness import LocalSlurm, install, unavailable_reason

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))


@pytest.fixture
def slurm(tmp_path_factory):
    install()
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm"), gpus=2)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def test_demo_jobs_through_the_slurm_profile(workflow, slurm):
    profile = yaml.safe_load((workflow / "workflow/profiles/slurm/config.yaml").read_text())
    # the real profile, fitted to one 2-core test node without accounting (SLURM.md)
    profile.update({"slurm-status-command": "squeue", "slurm-init-seconds-before-status-checks": 2,
                    "slurm-no-account": True, "latency-wait": 5, "retries": 0, "jobs": 4})
    profile["default-resources"] = {"gpu": 0, "cpus_per_task": 1, "mem_mb": 1000, "runtime": 30}
    profile["set-resources"] = {
        "demo_data": {"mem_mb": 2000},
        "table1": {"gpu": 1, "cpus_per_gpu": 1, "mem_mb": 2000},
        "pretrain_in1k": {"gpu": 2, "cpus_per_gpu": 1, "mem_mb": 6000},     # torchrun over the 2 GPUs
    }
    (workflow / "test-profile").mkdir()
    (workflow / "test-profile/config.yaml").write_text(yaml.safe_dump(profile))
    cfg = yaml.safe_load((workflow / "config/config.yaml").read_text())
    cfg["name"] = "slurm"
    cfg["models"] = {"EDIT-T": {"arch": "edit_tiny_patch16_224", "args": {"depth": 2}}}
    cfg["tables"] = {"table3": {"in1k": {"models": ["EDIT-T"]}}}
    cfg["recipes"]["in1k_pretrain"]["set"]["epochs"] = 1
    (workflow / "slurm.yaml").write_text(yaml.safe_dump(cfg))

    run = "results/slurm/runs/in1k_224/EDIT-T/seed0"
    r = snakemake(workflow, f"{run}/metrics.json", "reports/table1.md", "--profile", "test-profile",
                  "--configfile", "slurm.yaml", timeout=900, env=slurm.env)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    assert job_stats(out) == {"demo_data": 1, "pretrain_in1k": 1, "table1": 1, "total": 3}

    # every job went through sbatch and ran to completion on the node, GPUs scheduled as asked
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", out)
    assert len(submitted) == 3
    jobs = slurm.jobs()
    for jobid in submitted:
        block = jobs.split(f"JobId={jobid} ")[1].split("JobId=")[0]
        assert "JobState=COMPLETED" in block, block
    assert jobs.count("TresPerJob=gres:gpu:2") == 1 and jobs.count("TresPerJob=gres:gpu:1") == 1
    assert "torchrun --standalone --nproc_per_node=2 -m editrepro train" in out

    metrics = json.loads((workflow / run / "metrics.json").read_text())
    assert metrics["devices"] == 2 and metrics["val_images"] == 200          # two DDP processes, exact eval
    table1 = (workflow / "reports/table1.md").read_text()
    assert "| EDIT-B  | `edit_base_patch16_224`  | 768" in table1


@pytest.fixture
def slurm2(tmp_path_factory):
    install()
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm2"), gpus=1, nodes=2)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def _job_block(jobs: str, jobid: str) -> str:
    return jobs.split(f"JobId={jobid} ")[1].split("JobId=")[0]


def _wait_for(predicate, timeout: float, what: str, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"snakemake ended (rc {proc.returncode}) before {what}:\n"
                                 f"{proc.communicate()[0][-4000:]}")
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_multinode_training_preempted_and_resumed_matches_one_process(workflow, slurm2, demo_root):
    """gpu: 2, nodes: 2 through the project's Slurm profile: one torchrun agent per node, world size 2; USR1 (as
    Slurm sends before the time limit) reaches both ranks, the job checkpoints once and exits 75; the rerun
    resumes on the two nodes and ends with the weights of the same job trained uninterrupted by one process."""
    import mlflow
    import torch
    from editrepro.training.checkpoint import load_checkpoint

    profile = yaml.safe_load((workflow / "workflow/profiles/slurm/config.yaml").read_text())
    profile.update({"slurm-status-command": "squeue", "slurm-init-seconds-before-status-checks": 2,
                    "slurm-no-account": True, "latency-wait": 5, "retries": 0, "jobs": 2})
    profile["default-resources"] = {"gpu": 0, "cpus_per_task": 1, "mem_mb": 1000, "runtime": 30}
    # the one-line change of a multi-node rule: gpu is the total over the nodes
    profile["set-resources"] = {"pretrain_in1k": {"gpu": 2, "nodes": 2, "mem_mb": 3000,
                                                  "slurm_extra": "'--signal=USR1@600'"}}
    (workflow / "test-profile").mkdir()
    (workflow / "test-profile/config.yaml").write_text(yaml.safe_dump(profile))
    cfg = small_config(workflow, demo_root, {"table3": {"in1k": {"models": ["EDIT-T"]}}})
    cfg["name"] = "multinode"
    # the recipe with no per-batch randomness, so that 2 processes train as 1 does (tests/training/test_ddp.py)
    cfg["recipes"]["in1k_pretrain"]["set"].update(epochs=3, mixup=0.0, cutmix=0.0, loss="ce", drop_path=0.0,
                                                  repeated_aug=False)
    cfg["compute"].update(workers=0)
    (workflow / "multinode.yaml").write_text(yaml.safe_dump(cfg))

    run = workflow / "results/multinode/runs/in1k_224/EDIT-T/seed0"
    log = workflow / "logs/multinode/pretrain_in1k/EDIT-T/seed0.log"
    args = [sys.executable, "-m", "snakemake", f"{run.relative_to(workflow)}/metrics.json", "--profile",
            "test-profile", "--configfile", "multinode.yaml"]
    t0 = time.time()
    first = subprocess.Popen(args, cwd=workflow, env=slurm2.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    try:
        # preempt it mid-training: USR1 to the job's steps once the first epoch is logged (what sbatch
        # --signal=USR1@600 does ten minutes before the time limit: every job step, not the batch shell)
        _wait_for(lambda: log.is_file() and "epoch 0:" in log.read_text(), 600, "the first epoch", first)
        jobid = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True,
                               env=slurm2.env).stdout.split()[0]
        subprocess.run(["scancel", "--signal=USR1", jobid], check=True, env=slurm2.env)
        out1 = first.communicate(timeout=600)[0]
    finally:
        if first.poll() is None:
            first.send_signal(2)
            first.wait(60)
    t1 = time.time()
    text1 = log.read_text()
    assert first.returncode != 0, out1[-4000:]
    block = _job_block(slurm2.jobs(), jobid)
    # the plugin's sbatch: 2 nodes, one task each (the job's own exit code is its job step snakemake's, 1)
    assert "JobState=FAILED" in block and "NumNodes=2" in block and "NodeList=node[1-2]" in block, block
    assert "NumTasks=2" in block and "TresPerJob=gres:gpu:2" in block, block
    # the rule's command exited 75, as each node's agent did (its worker's code: torchrun alone exits 1)
    slurm_log = re.search(r"StdOut=(\S+)", block).group(1)
    assert "returned non-zero exit status 75." in open(slurm_log).read()
    shell = next(line.split("Shell command: ", 1)[1] for line in out1.splitlines() if "Shell command: " in line)
    assert shell.startswith("srun --whole --nodes=2 --ntasks-per-node=1 python -m editrepro.launch agent "
                            "--nnodes=2 --nproc_per_node=1 --rdzv_backend=c10d "), shell
    # the signal reached the ranks (each logs it once; Slurm signals each node on its own, and a rank whose signal
    # comes after the others made it stop at the same step, through the per-step all-reduce, ignores it), both
    # stopped at the same step, and the agents passed their workers' 75 on (srun exits with the highest)
    received = [text1.count(f"rank {rank} received SIGUSR1: checkpointing at the next step boundary") for rank in (0, 1)]
    assert max(received) == 1, text1[-4000:]
    stops = re.findall(r"editrepro train: stopped by SIGUSR1 at epoch (\d+), step (\d+) of (\d+)", text1)
    assert len(stops) == 2 and stops[0] == stops[1], text1[-4000:]
    assert "workers exited [75]: exit 75" in text1 and "Exited with exit code 75" in text1, text1[-4000:]
    epoch, step, _ = map(int, stops[0])
    ckpt = load_checkpoint(run / "checkpoint.pth")
    assert (ckpt["epoch"], ckpt["step"]) == (epoch, step)             # rank 0 wrote the stop position
    assert not (run / "model.pth").exists()

    # the rerun (the profile's retries do the same) resumes on the two nodes and finishes
    r = snakemake(workflow, *args[3:], timeout=900, env=slurm2.env)
    out2 = r.stdout + r.stderr
    assert r.returncode == 0, out2[-4000:]
    assert job_stats(out2) == {"pretrain_in1k": 1, "total": 1}
    t2 = time.time()
    text2 = log.read_text()
    assert f"at epoch {epoch}, step {step}" in text2 and "resuming" in text2, text2[-4000:]
    jobid2 = re.findall(r"has been submitted with SLURM jobid (\d+)", out2)[-1]
    block2 = _job_block(slurm2.jobs(), jobid2)
    assert "JobState=COMPLETED" in block2 and "NumNodes=2" in block2, block2
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["devices"] == 2 and metrics["val_images"] == 200          # world size 2, exact eval
    client = mlflow.MlflowClient()
    mlrun = client.get_run(metrics["run_id"])
    assert mlrun.info.status == "FINISHED"
    world = [v for k, v in mlrun.data.params.items() if k.endswith("world_size")]
    assert world == ["2"] and mlrun.data.tags["devices"].startswith("2 x cpu"), (mlrun.data.params, mlrun.data.tags)

    # the same job uninterrupted by one process, outside Slurm: its own folder, the command the rule ran. Each
    # sample's augmentation seed depends on its place in the epoch's one order, not on the rank that reads it
    # (editrepro.runtime.sampling), so one process sees the crops and flips the two ranks saw
    ref = workflow / "reference"
    words = shlex.split(shell.split(" -m editrepro ", 1)[1].split(" > ", 1)[0])
    words[words.index("--output") + 1] = str(ref)
    words[words.index("--run-name") + 1] = "reference"
    env = {k: v for k, v in slurm2.env.items() if not k.startswith("SLURM_")}
    done = subprocess.run([sys.executable, "-m", "editrepro", *words], cwd=workflow, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    single = json.loads((ref / "metrics.json").read_text())
    assert single["devices"] == 1
    a, b = load_checkpoint(ref / "model.pth")["model"], load_checkpoint(run / "model.pth")["model"]
    assert a.keys() == b.keys()
    for k in a:     # the all-reduce sums the two halves in another order: round-off only (as tests/training/test_ddp)
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-6, msg=k)
    assert abs(single["top1"] - metrics["top1"]) < 1e-6 and abs(single["val_loss"] - metrics["val_loss"]) < 1e-4
    print(f"multinode: preempted run {t1 - t0:.0f} s, resumed run {t2 - t1:.0f} s, uninterrupted reference "
          f"{time.time() - t2:.0f} s")


def test_multinode_path_forced_on_one_node_by_launcher_srun(workflow, slurm, demo_root):
    """compute.launcher: srun on the one-node cluster: the job's own srun with one torchrun agent, its 2 GPUs'
    workers, and no srun of the plugin's job step around it (a nested step would wait for the resources its parent
    holds: the job would hang to the timeout). The plugin refuses an MPI job of one task, so `mpi` is empty here."""
    profile = yaml.safe_load((workflow / "workflow/profiles/slurm/config.yaml").read_text())
    profile.update({"slurm-status-command": "squeue", "slurm-init-seconds-before-status-checks": 2,
                    "slurm-no-account": True, "latency-wait": 5, "retries": 0, "jobs": 2})
    profile["default-resources"] = {"gpu": 0, "cpus_per_task": 1, "mem_mb": 1000, "runtime": 30}
    profile["set-resources"] = {"pretrain_in1k": {"gpu": 2, "mem_mb": 3000}}
    (workflow / "test-profile").mkdir()
    (workflow / "test-profile/config.yaml").write_text(yaml.safe_dump(profile))
    cfg = small_config(workflow, demo_root, {"table3": {"in1k": {"models": ["EDIT-T"]}}})
    cfg["name"] = "forced"
    cfg["recipes"]["in1k_pretrain"]["set"].update(epochs=1)
    cfg["compute"].update(workers=0, launcher="srun")
    (workflow / "forced.yaml").write_text(yaml.safe_dump(cfg))
    run = "results/forced/runs/in1k_224/EDIT-T/seed0"
    r = snakemake(workflow, f"{run}/metrics.json", "--profile", "test-profile", "--configfile", "forced.yaml",
                  timeout=420, env=slurm.env)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    assert ("srun --whole --nodes=1 --ntasks-per-node=1 python -m editrepro.launch agent --nnodes=1 "
            "--nproc_per_node=2 --rdzv_backend=c10d") in out
    jobid = re.findall(r"has been submitted with SLURM jobid (\d+)", out)[-1]
    block = _job_block(slurm.jobs(), jobid)
    assert "JobState=COMPLETED" in block and "NumNodes=1" in block and "NumTasks=1" in block, block
    metrics = json.loads((workflow / run / "metrics.json").read_text())
    assert metrics["devices"] == 2 and metrics["val_images"] == 200
