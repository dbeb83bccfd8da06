"""A training job's launch (editrepro.launch) against the Slurm plugin's own resource handling.

The sbatch lines are built by snakemake-executor-plugin-slurm's ``get_submit_command`` and ``set_gres_string``,
and the job step's call by snakemake-executor-plugin-slurm-jobstep's ``Executor.run_job`` (the versions
requirements.lock pins), from a small fake job carrying the resources the workflow gives it: the profile's
default-resources and set-resources plus ``launch_resources``. The agent's signal and exit-code handling runs a
real torchrun with two small worker scripts. The real multi-node run is tests/workflow/test_slurm.py
(``pytest -k multinode``).
"""
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from editrepro.launch import _exit_code, launch_command, launch_resources, uses_srun

ROOT = Path(__file__).resolve().parents[1]
PROFILE = yaml.safe_load((ROOT / "workflow/profiles/slurm/config.yaml").read_text())
SRUN = "srun --whole --nodes={n} --ntasks-per-node=1 python -m editrepro.launch agent --nnodes={n} --nproc_per_node={p} "
RDZV = ("--rdzv_backend=c10d --rdzv_id=$SLURM_JOB_ID --rdzv_endpoint=$(hostname):$((29500 + SLURM_JOB_ID % 1000)) "
        "-m editrepro")


# -- the command ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("gpus, expected", [
    (0, "editrepro"), (1, "editrepro"),
    (2, "torchrun --standalone --nproc_per_node=2 -m editrepro"),
    (8, "torchrun --standalone --nproc_per_node=8 -m editrepro")])
def test_one_node_auto_keeps_the_single_node_commands(gpus, expected):
    assert launch_command(gpus, 1, "auto") == expected
    assert launch_resources(gpus, 1, "auto") == {} and not uses_srun(gpus, 1, "auto")


@pytest.mark.parametrize("launcher", ["auto", "srun"])
@pytest.mark.parametrize("nodes, gpus, per_node", [(2, 16, 8), (4, 32, 8), (2, 2, 1), (4, 8, 2)])
def test_several_nodes_run_one_torchrun_agent_per_node(nodes, gpus, per_node, launcher):
    cmd = launch_command(gpus, nodes, launcher)
    assert cmd == SRUN.format(n=nodes, p=per_node) + RDZV
    assert nodes * per_node == gpus                                       # world size = the GPUs asked for
    assert launch_resources(gpus, nodes, launcher) == {"mpi": "srun", "tasks": nodes, "tasks_per_gpu": 0}


@pytest.mark.parametrize("gpus, per_node", [(0, 1), (1, 1), (2, 2), (8, 8)])
def test_launcher_srun_forces_the_srun_path_on_one_node(gpus, per_node):
    assert launch_command(gpus, 1, "srun") == SRUN.format(n=1, p=per_node) + RDZV
    assert launch_resources(gpus, 1, "srun") == {"mpi": ""}


@pytest.mark.parametrize("gpus, nodes, launcher, named", [
    (8, 1, "mpirun", "compute.launcher: 'mpirun' is not one of auto, srun"),
    (12, 8, "auto", "resources gpu=12 over nodes=8: gpu is the job's total, a multiple of nodes (gpu=8 is 1 per node)"),
    (1, 2, "auto", "resources gpu=1 over nodes=2"),
    (8, 0, "auto", "resources nodes=0: must be an integer >= 1"),
    (-1, 1, "auto", "resources gpu=-1: must be an integer >= 0")])
def test_mistakes_name_the_key_and_value(gpus, nodes, launcher, named):
    with pytest.raises(ValueError, match="^" + named.replace("(", r"\(").replace(")", r"\)")):
        launch_command(gpus, nodes, launcher)
    with pytest.raises(ValueError):
        launch_resources(gpus, nodes, launcher)


def test_planning_imports_it_without_torch():
    r = subprocess.run([sys.executable, "-c", "import sys, editrepro.launch; print(sorted(m for m in ('torch', 'timm') "
                        "if m in sys.modules))"], env=dict(os.environ, PYTHONPATH=str(ROOT / "src")),
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "[]", r.stderr


# -- what the plugin makes of it ----------------------------------------------------------------------------------
class FakeResources(dict):
    """What the plugins read of ``job.resources``: ``.get`` and attributes."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


def fake_job(rule: str, launcher: str = "auto", **changes):
    """A job of ``rule`` with the slurm profile's resources (default-resources, then set-resources, then
    ``changes``) and the workflow's launch resources, as the plugins see it."""
    res = {**PROFILE["default-resources"], **PROFILE["set-resources"].get(rule, {}), **changes}
    # Snakemake reads a profile's string values as Python expressions: "'--signal=USR1@600'" is the string inside
    res = {k: v[1:-1] if isinstance(v, str) and v[:1] == v[-1:] == "'" else v for k, v in res.items()}
    res.update(launch_resources(res.get("gpu", 0), res.get("nodes", 1), launcher))
    return FakeJob(FakeResources(res), rule)


class FakeJob:
    def __init__(self, resources, name):
        self.resources, self.name, self.threads = resources, name, 1

    def is_group(self):
        return False


def sbatch(job) -> str:
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    params = dict(run_uuid="uuid", slurm_logfile="log", comment_str="rule", account="", partition="", workdir="")
    settings = SimpleNamespace(requeue=True, no_requeue=False, qos=None, reservation=None)
    return get_submit_command(job, params, settings=settings) + set_gres_string(job)


def jobstep_call(job) -> str:
    """The command the job step runs inside the allocation (its Popen's first argument)."""
    import snakemake_executor_plugin_slurm_jobstep as jobstep

    calls = []

    class Proc:
        def __init__(self, call, **kw):
            calls.append(call)

        def wait(self):
            return 0

    executor = SimpleNamespace(
        format_job_exec=lambda job: "python -m snakemake --target-jobs ...", gpu_job="1", job_array_task=False,
        logger=logging.getLogger("jobstep"), report_job_submission=lambda info: None,
        report_job_success=lambda info: None, report_job_error=lambda info: None,
        workflow=SimpleNamespace(executor_settings=SimpleNamespace(pass_command_as_script=False, array_execs="")))
    orig = jobstep.subprocess.Popen
    jobstep.subprocess.Popen = Proc
    try:
        jobstep.Executor.run_job(executor, job)
    finally:
        jobstep.subprocess.Popen = orig
    return calls[0]


def options(line: str) -> set:
    return set(line.split())


def test_one_node_jobs_keep_the_plugins_one_task_and_its_srun():
    job = fake_job("pretrain_in1k")
    line = options(sbatch(job))
    assert {"--gpus=8", "--requeue", "--signal=USR1@600", "-t", "4320"} <= line
    assert not any(o.startswith(("--nodes", "--ntasks")) for o in line)          # one task, Slurm's default
    call = jobstep_call(job)
    assert call.startswith("srun -n1 ") and "--gpus=8" in call and "--nodes=1" in call


@pytest.mark.parametrize("nodes", [2, 4])
def test_several_nodes_get_one_task_per_node_and_no_wrapping_srun(nodes):
    job = fake_job("pretrain_in21k", gpu=8 * nodes, nodes=nodes)
    line = options(sbatch(job))
    assert {f"--nodes={nodes}", f"--ntasks={nodes}", f"--gpus={8 * nodes}", "--signal=USR1@600"} <= line
    assert not any(o.startswith("--ntasks-per-gpu") for o in line)          # tasks_per_gpu: 0 keeps it out
    assert jobstep_call(job) == "python -m snakemake --target-jobs ..."    # the rule's own srun, not nested
    # without tasks_per_gpu the plugin would also ask --ntasks-per-gpu=<nodes>; without tasks it refuses the job
    bare = fake_job("pretrain_in21k", gpu=8 * nodes, nodes=nodes)
    del bare.resources["tasks_per_gpu"]
    assert f"--ntasks-per-gpu={nodes}" in sbatch(bare)
    from snakemake_interface_common.exceptions import WorkflowError
    del bare.resources["tasks"]
    with pytest.raises(WorkflowError, match="'tasks_per_node' or 'tasks'"):
        sbatch(bare)


def test_launcher_srun_on_one_node_keeps_one_task_and_no_wrapping_srun():
    job = fake_job("pretrain_in1k", launcher="srun")
    line = options(sbatch(job))
    assert "--gpus=8" in line and not any(o.startswith(("--nodes", "--ntasks")) for o in line)
    assert jobstep_call(job) == "python -m snakemake --target-jobs ..."
    # why mpi is empty there: the plugin refuses an MPI job of one task
    from snakemake_interface_common.exceptions import WorkflowError
    one = fake_job("pretrain_in1k", mpi="srun", tasks=1)
    with pytest.raises(WorkflowError, match="'tasks' must be greater than 1"):
        sbatch(one)


# -- the agent: USR1 reaches the workers, their exit code comes out ----------------------------------------------
def test_exit_code_of_the_workers():
    assert _exit_code([75, 75]) == 75
    assert _exit_code([-15, 75]) == 75 and _exit_code([75, -15, -15]) == 75   # siblings the agent ended
    assert _exit_code([75, 5]) == 5 and _exit_code([5, 75]) == 5 and _exit_code([-15, 5]) == 5
    assert _exit_code([-9]) == 1 and _exit_code([-15]) == 1 and _exit_code([75, -9]) == 1


WORKER = textwrap.dedent("""\
    import os, signal, sys, time
    got = []
    signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
    open(os.path.join(os.environ["OUT"], "ready" + os.environ["RANK"]), "w").close()
    t = time.time()
    while not got and time.time() - t < float(os.environ["WAIT"]):
        time.sleep(0.05)
    # each worker's own file: the two share the agent's stdout, where their lines can interleave
    with open(os.path.join(os.environ["OUT"], "got" + os.environ["RANK"]), "w") as f:
        f.write(str(len(got)))
    sys.exit(75 if got else int(os.environ["CODE"]))
    """)


def descendants(pid: int) -> list:
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def run_agent(tmp_path, signal_it: bool, code: int = 0):
    (tmp_path / "w.py").write_text(WORKER)
    env = dict(os.environ, OUT=str(tmp_path), WAIT="30" if signal_it else "0", CODE=str(code),
               PYTHONPATH=str(ROOT / "src"), CUDA_VISIBLE_DEVICES="")
    agent = subprocess.Popen([sys.executable, "-m", "editrepro.launch", "agent", "--standalone", "--nproc_per_node=2",
                              str(tmp_path / "w.py")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    if signal_it:
        deadline = time.time() + 60
        while not all((tmp_path / f"ready{r}").exists() for r in (0, 1)) and time.time() < deadline:
            time.sleep(0.1)
        # as Slurm's proctrack (linuxproc, cgroup) does: every process of the step, agent and workers
        procs = descendants(agent.pid)
        assert len(procs) >= 3
        for p in procs:
            os.kill(p, signal.SIGUSR1)
    out = agent.communicate(timeout=120)[0]
    return agent.returncode, out


def test_usr1_reaches_every_worker_the_agent_survives_and_exits_75(tmp_path):
    rc, out = run_agent(tmp_path, signal_it=True)
    assert [(tmp_path / f"got{rank}").read_text() for rank in (0, 1)] == ["1", "1"], out[-3000:]
    assert rc == 75, out[-3000:]                         # torchrun alone exits 1
    # the agent ends the other worker (SIGTERM) when one exits first, unless both exit before it looks
    assert re.search(r"workers exited \[(75|-15), (75|-15)\]: exit 75", out), out[-3000:]


def test_a_worker_error_code_comes_out_of_the_agent(tmp_path):
    rc, out = run_agent(tmp_path, signal_it=False, code=5)
    assert rc == 5, out[-3000:]


def test_the_agent_refuses_a_node_with_another_number_of_gpus(tmp_path):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="0,1,2", PYTHONPATH=str(ROOT / "src"))
    r = subprocess.run([sys.executable, "-m", "editrepro.launch", "agent", "--nnodes=2", "--nproc_per_node=2",
                        "-m", "editrepro"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "has 3 GPU(s) (CUDA_VISIBLE_DEVICES=0,1,2) for --nproc_per_node=2" in r.stderr


# -- the trainer's stop flag: once per rank, named --------------------------------------------------------------
def test_stop_flag_logs_once_per_rank_and_not_from_forks(caplog):
    from editrepro.training.trainer import _StopFlag

    flag = _StopFlag(rank=3)
    flag.install()
    try:
        with caplog.at_level(logging.WARNING):
            os.kill(os.getpid(), signal.SIGUSR1)
            os.kill(os.getpid(), signal.SIGUSR1)               # Slurm's and a forwarded one
            time.sleep(0.1)
        assert flag() and flag.signal == signal.SIGUSR1
        assert [r.getMessage() for r in caplog.records] == [
            "rank 3 received SIGUSR1: checkpointing at the next step boundary"]
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:                                            # a DataLoader worker: inherits the handler
            os.close(r)
            flag.signal = None
            handler = logging.StreamHandler(os.fdopen(w, "w"))
            logging.getLogger("editrepro.training.trainer").addHandler(handler)
            os.kill(os.getpid(), signal.SIGUSR1)
            handler.flush()
            os._exit(0 if flag() else 1)
        os.close(w)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert os.fdopen(r).read() == ""                        # set its own flag, logged nothing
    finally:
        flag.restore()


# -- snakemake cost says how to spread a job over nodes ------------------------------------------------------------
def test_the_cost_page_says_how_to_set_nodes_per_rule():
    from editrepro.reporting.cost import estimate, render_cost

    config = {"name": "paper", "gpu": "A100 80GB", "peak_tflops": 312, "mfu": 0.5, "generate_demo": False}
    jobs = [dict(job=f"in1k_224/EDIT-{s}", stage="pretrain_in1k", model=f"EDIT-{s}", arch=f"edit_{size}_patch16_224",
                 args={}, img_size=224, resolution=224, dataset="imagenet1k", recipe="config/recipes/in1k_pretrain.yaml",
                 overrides={}, benchmark="/nonexistent.tsv") for s, size in (("S", "small"), ("B", "base"))]
    df = estimate(jobs, config, gmacs={"in1k_224/EDIT-S": 4.6, "in1k_224/EDIT-B": 17.6},
                  train_images={"in1k_224/EDIT-S": 1_281_167, "in1k_224/EDIT-B": 1_281_167})
    hours = df.estimate_gpu_hours.max()
    text = render_cost(df, config)
    assert "`pretrain_in21k: {gpu: 32, nodes: 4, ...}`" in text and "`set-resources`" in text
    assert (f"The longest job, in1k_224/EDIT-B ({hours:,.0f} GPU-h), takes about {hours / 8:,.0f} h on one 8-GPU "
            f"node, {hours / 16:,.0f} h on 2 and {hours / 32:,.0f} h on 4.") in text


def test_every_gpu_rule_of_the_profile_gets_its_cores_per_gpu():
    """The plugin asks for --cpus-per-task whenever a job has that resource (default-resources gives every rule 4)
    and only otherwise for --cpus-per-gpu: each GPU rule's cpus_per_task: 0 leaves it out, so an 8-GPU training job
    gets 8 x cpus_per_gpu cores, not 4."""
    gpu_rules = {rule: res for rule, res in PROFILE["set-resources"].items() if res.get("gpu", 0) > 0}
    assert {"pretrain_in1k", "pretrain_in21k", "train_lavit", "evaluate"} <= set(gpu_rules)
    for rule, res in gpu_rules.items():
        line = options(sbatch(fake_job(rule)))
        assert f"--cpus-per-gpu={res['cpus_per_gpu']}" in line, (rule, line)
        assert not any(o.startswith("--cpus-per-task") for o in line), (rule, line)
    # without it, the default's 4 cores would win (what the profile did before)
    bare = fake_job("pretrain_in1k")
    bare.resources["cpus_per_task"] = PROFILE["default-resources"]["cpus_per_task"]
    assert "--cpus-per-task=4" in options(sbatch(bare))
