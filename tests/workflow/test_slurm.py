"""The workflow through a real Slurm (slurmctld + slurmd + munge) with fake GPUs.

Runs where the suite runs as root with apt available (CI); installs and starts Slurm,
submits demo jobs through the project's Slurm profile (its test variant: status by squeue,
no accounting), and stops the daemons by their PID files. Skipped elsewhere, saying why.
"""
import json
import re

import pytest
import yaml
from conftest import job_stats, snakemake
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
