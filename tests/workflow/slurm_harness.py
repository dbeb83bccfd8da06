"""A real single-node Slurm for tests: Debian's slurmctld + slurmd + munge, fake GPUs.

Runs as root without systemd (docs/slurm.md). State, logs, PID files and the
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
    def __init__(self, folder: Path, gpus: int = 2, cpus: Optional[int] = None):
        self.dir = Path(folder)
        self.gpus = gpus
        self.host = socket.gethostname().split(".")[0]
        self.cpus = cpus or os.cpu_count()
        self.conf = ETC / "slurm.conf"

    @property
    def env(self) -> Dict[str, str]:
        return dict(os.environ)

    def _write_config(self) -> None:
        for sub in ("state", "spool", "gpus"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        for i in range(self.gpus):
            dev = self.dir / "gpus" / f"gpu{i}"
            if not dev.exists():
                os.mknod(dev, 0o666 | 0o020000, os.makedev(1, 3))  # a character device like /dev/null
        for f in (self.conf, ETC / "gres.conf"):
            if f.is_file() and not f.read_text().startswith(MARK):
                raise RuntimeError(f"{f} exists and was not written by this harness; not touching it")
        ETC.mkdir(parents=True, exist_ok=True)
        mem_mb = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20) - 2048
        self.conf.write_text(MARK + f"""\
ClusterName=editrepro-test
SlurmctldHost={self.host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={self.dir}/state
SlurmdSpoolDir={self.dir}/spool
SlurmctldPidFile={self.dir}/slurmctld.pid
SlurmdPidFile={self.dir}/slurmd.pid
SlurmctldLogFile={self.dir}/slurmctld.log
SlurmdLogFile={self.dir}/slurmd.log
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
NodeName={self.host} CPUs={self.cpus} RealMemory={mem_mb} Gres=gpu:{self.gpus} State=UNKNOWN
PartitionName=test Nodes={self.host} Default=YES MaxTime=INFINITE State=UP
""")
        (ETC / "gres.conf").write_text(
            MARK + f"AutoDetect=off\nNodeName={self.host} Name=gpu File={self.dir}/gpus/gpu[0-{self.gpus - 1}]\n")

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
        subprocess.run(["slurmd", "-f", str(self.conf)], check=True, env=self.env)
        deadline = time.time() + timeout
        state = ""
        while time.time() < deadline:
            out = subprocess.run(["sinfo", "-h", "-N", "-o", "%t"], capture_output=True, text=True, env=self.env)
            state = out.stdout.strip()
            if state in ("idle", "mix", "alloc"):
                return
            time.sleep(0.5)
        raise RuntimeError(f"the Slurm node did not become idle within {timeout:.0f} s (state {state!r}); "
                           f"see {self.dir}/slurmctld.log and slurmd.log")

    def jobs(self) -> str:
        """``scontrol show job`` of every job the controller still remembers (MinJobAge=600)."""
        return subprocess.run(["scontrol", "show", "job"], capture_output=True, text=True, env=self.env).stdout

    def stop(self) -> None:
        subprocess.run(["scancel", "--user", "root"], capture_output=True, env=self.env)
        for pid_file in (self.dir / "slurmd.pid", self.dir / "slurmctld.pid"):
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
