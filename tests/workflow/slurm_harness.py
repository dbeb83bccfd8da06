"""A real Slurm for tests: Debian's slurmctld + one slurmd per node + munge, fake GPUs.

Runs as root without systemd (docs/slurm.md). ``nodes=1`` is one node named after the host (the
default); ``nodes=N`` runs N slurmd daemons on this one machine as nodes ``node1..nodeN``, each
started with ``slurmd -N nodeK`` and its own port, spool, log and PID file (``%n`` in the paths):
Debian's slurm-wlm 22.05 accepts this (its slurmd has ``-N`` and the controller takes several
``NodeName`` lines with one ``NodeHostname``/``NodeAddr`` and distinct ``Port``s), so a job can
span two "nodes" and ``srun`` starts one task on each. State, logs, PID files and the
fake GPU device files live in one folder; the configuration must be at Slurm's default path
(``srun`` inside a job ignores SLURM_CONF), so ``/etc/slurm/slurm.conf`` and ``gres.conf`` are
written there, marked as this harness's, and removed by ``stop``, which also cancels the jobs
and kills each daemon by its PID file. An existing configuration that is not ours is refused.
"""
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Dict, Optional

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
MUNGE_PID = Path("/run/munge/munged.pid")
ETC = Path("/etc/slurm")
MARK = "# written by editrepro's test harness\n"


def unavailable_reason() -> Optional[str]:
    """Why a local Slurm cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (slurmd, munged and the fake GPU device files)"
    if not all(shutil.which(b) for b in ("slurmctld", "slurmd", "sbatch", "munged")) and not shutil.which("apt-get"):
        return "Slurm is not installed and apt-get is not available to install it"
    return None


def install() -> None:
    if all(shutil.which(b) for b in ("slurmctld", "slurmd", "sbatch", "munged")):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]
    if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True, capture_output=True)
        subprocess.run(cmd, env=env, check=True, capture_output=True)


class LocalSlurm:
    def __init__(self, folder: Path, gpus: int = 2, cpus: Optional[int] = None, nodes: int = 1):
        self.dir = Path(folder)
        self.gpus = gpus            # per node
        self.host = socket.gethostname().split(".")[0]
        self.cpus = cpus or os.cpu_count()
        self.conf = ETC / "slurm.conf"
        self.nodes = nodes
        self.names = [self.host] if nodes == 1 else [f"node{k}" for k in range(1, nodes + 1)]

    @property
    def env(self) -> Dict[str, str]:
        return dict(os.environ)

    def _write_config(self) -> None:
        for sub in ("state", "spool", *(f"gpus/{n}" for n in self.names)):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        for name in self.names:
            for i in range(self.gpus):
                dev = self.dir / "gpus" / name / f"gpu{i}"
                if not dev.exists():
                    os.mknod(dev, 0o666 | 0o020000, os.makedev(1, 3))  # a character device like /dev/null
        for f in (self.conf, ETC / "gres.conf"):
            if f.is_file() and not f.read_text().startswith(MARK):
                raise RuntimeError(f"{f} exists and was not written by this harness; not touching it")
        ETC.mkdir(parents=True, exist_ok=True)
        mem_mb = (int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20) - 2048) // self.nodes
        if self.nodes == 1:
            node_lines = f"NodeName={self.host} CPUs={self.cpus} RealMemory={mem_mb} Gres=gpu:{self.gpus} State=UNKNOWN\n"
        else:   # one slurmd per node on this host, told apart by port (slurmd -N <name>)
            node_lines = "".join(
                f"NodeName={n} NodeHostname={self.host} NodeAddr=127.0.0.1 Port={17000 + k} CPUs={self.cpus} "
                f"RealMemory={mem_mb} Gres=gpu:{self.gpus} State=UNKNOWN\n" for k, n in enumerate(self.names, 1))
        self.conf.write_text(MARK + f"""\
ClusterName=editrepro-test
SlurmctldHost={self.host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={self.dir}/state
SlurmdSpoolDir={self.dir}/spool/%n
SlurmctldPidFile={self.dir}/slurmctld.pid
SlurmdPidFile={self.dir}/slurmd-%n.pid
SlurmctldLogFile={self.dir}/slurmctld.log
SlurmdLogFile={self.dir}/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
MinJobAge=600
ReturnToService=2
MpiDefault=none
SchedulerType=sched/backfill
GresTypes=gpu
{node_lines}PartitionName=test Nodes={",".join(self.names)} Default=YES MaxTime=INFINITE State=UP
""")
        (ETC / "gres.conf").write_text(MARK + "AutoDetect=off\n" + "".join(
            f"NodeName={n} Name=gpu File={self.dir}/gpus/{n}/gpu[0-{self.gpus - 1}]\n" for n in self.names))

    def _start_munge(self) -> None:
        if MUNGE_PID.is_file() and _alive(int(MUNGE_PID.read_text().split()[0])):
            return
        MUNGE_PID.unlink(missing_ok=True)
        run_dir = MUNGE_PID.parent
        run_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(run_dir, "munge", "munge")
        subprocess.run(["runuser", "-u", "munge", "--", "munged"], check=True)

    def start(self, timeout: float = 60) -> None:
        self._write_config()
        self._start_munge()
        subprocess.run(["slurmctld", "-f", str(self.conf)], check=True, env=self.env)
        for name in self.names:
            (self.dir / "spool" / name).mkdir(parents=True, exist_ok=True)
            subprocess.run(["slurmd", "-f", str(self.conf), *(["-N", name] if self.nodes > 1 else [])],
                           check=True, env=self.env)
        deadline = time.time() + timeout
        states = []
        while time.time() < deadline:
            out = subprocess.run(["sinfo", "-h", "-N", "-o", "%t"], capture_output=True, text=True, env=self.env)
            states = out.stdout.split()
            if len(states) == self.nodes and all(s in ("idle", "mix", "alloc") for s in states):
                return
            time.sleep(0.5)
        raise RuntimeError(f"the {self.nodes} Slurm node(s) did not become idle within {timeout:.0f} s (states {states!r}); "
                           f"see {self.dir}/slurmctld.log and slurmd-*.log")

    def jobs(self) -> str:
        """``scontrol show job`` of every job the controller still remembers (MinJobAge=600)."""
        return subprocess.run(["scontrol", "show", "job"], capture_output=True, text=True, env=self.env).stdout

    def stop(self) -> None:
        subprocess.run(["scancel", "--user", "root"], capture_output=True, env=self.env)
        for pid_file in (*(self.dir / f"slurmd-{n}.pid" for n in self.names), self.dir / "slurmctld.pid"):
            if pid_file.is_file():
                pid = int(pid_file.read_text().split()[0])
                _kill(pid)
                pid_file.unlink(missing_ok=True)
        if MUNGE_PID.is_file():
            _kill(int(MUNGE_PID.read_text().split()[0]))
            MUNGE_PID.unlink(missing_ok=True)
        for f in (self.conf, ETC / "gres.conf"):
            if f.is_file() and f.read_text().startswith(MARK):
                f.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def _kill(pid: int, timeout: float = 10) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.time() + timeout
    while time.time() < deadline and _alive(pid):
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
