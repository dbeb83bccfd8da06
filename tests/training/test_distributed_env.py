"""Process-group settings from Slurm's variables when srun starts the tasks without torchrun."""
import pytest

from editrepro.runtime import distributed


@pytest.fixture
def slurm_env(monkeypatch):
    import os

    saved = dict(os.environ)  # _env_from_slurm adds RANK etc. itself: restore the whole environment
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SLURM_PROCID", "5")
    monkeypatch.setenv("SLURM_NTASKS", "8")
    monkeypatch.setenv("SLURM_LOCALID", "1")
    monkeypatch.setenv("SLURM_JOB_ID", "123456")
    monkeypatch.setenv("SLURM_JOB_NODELIST", "gpu-node-17,gpu-node-18")
    monkeypatch.setattr(distributed, "_slurm_master_addr", lambda: "gpu-node-17")
    yield monkeypatch
    os.environ.clear()
    os.environ.update(saved)


def test_srun_tasks_become_torch_ranks(slurm_env):
    import os

    distributed._env_from_slurm()
    assert (os.environ["RANK"], os.environ["WORLD_SIZE"], os.environ["LOCAL_RANK"]) == ("5", "8", "1")
    assert os.environ["MASTER_ADDR"] == "gpu-node-17" and os.environ["MASTER_PORT"] == str(29500 + 123456 % 1000)


def test_torchrun_variables_win(slurm_env):
    import os

    slurm_env.setenv("RANK", "0")
    slurm_env.setenv("WORLD_SIZE", "2")
    distributed._env_from_slurm()
    assert os.environ["WORLD_SIZE"] == "2" and "MASTER_ADDR" not in os.environ


def test_a_single_slurm_task_is_not_distributed(slurm_env):
    import os

    slurm_env.setenv("SLURM_NTASKS", "1")
    distributed._env_from_slurm()
    assert "RANK" not in os.environ
    assert distributed.init_distributed("cpu").world_size == 1
