import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from editrepro.provenance import project_root

REPO = project_root(Path(__file__).parent)


def copy_workflow(work: Path) -> Path:
    """Copy the workflow (Snakefile, rules, configs) into ``work``, so tests never write into the repo."""
    work.mkdir()
    shutil.copy(REPO / "Snakefile", work)
    shutil.copytree(REPO / "workflow", work / "workflow")
    shutil.copytree(REPO / "config", work / "config")
    return work


@pytest.fixture
def workflow(tmp_path, monkeypatch):
    """A copy of the workflow to run in, logging to its own SQLite store."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return copy_workflow(tmp_path / "wf")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real `mlflow server` on 127.0.0.1 with its own SQLite store and artifact folder: its URI."""
    tmp_path = tmp_path_factory.mktemp("mlflow_server")
    port = free_port()
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"], stdout=log, stderr=subprocess.STDOUT)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{uri}/health", timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {(tmp_path / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
    else:
        proc.terminate()
        raise RuntimeError("mlflow server did not answer within 120 s")
    yield uri
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


# The jobs of `shared_run`: Table 3a (three rows, DeiT3-T by its own recipe too: 4 + 1 trainings and evaluations),
# LaViT's table (2 trainings, 2 + 2 evaluations, one detector, one UperNet), the attention analyses of 5 models
SHARED_JOBS = {"demo_data": 1, "table1": 1, "pretrain_in1k": 3, "train_deit3_official": 1, "train_lavit": 2, "detect": 1,
               "segment_dense": 1, "evaluate": 4 + 2 + 2 + 2, "figures_lavit": 1, "aggregate_table": 2 + 2,
               "report_table": 2 + 2, "reproduce_lavit": 1, "demo_timm_weights": 1, "attention_model": 5,
               "attention_sink": 1, "calibrate_model": 1, "calibrate": 1,
               # the ablation tables: one variant each (trained, evaluated), their figures and targets
               "train_ablation": 2, "figures_ablation": 2, "reproduce_edit_ablation": 1,
               "reproduce_lavit_ablation": 1, "total": 33 + 2 + 2 + 2 + 2 + 2 + 2}


@pytest.fixture(scope="session")
def shared_run(tmp_path_factory, mlflow_server):
    """One reduced demo run that several tests read, each asserting its own part of it (the suite runs it once):
    Table 3a with EDIT-T, DeiT3-T and a plain timm ViT with registers, ViTReg-T (depth 1, two epochs), and DeiT3-T by
    DeiT III's own recipe (one epoch) up to reports/table3.md; LaViT's table with LaViT-T and PVTv2-b1 (one epoch, 64 px), LaViT-T also as RetinaNet and
    UperNet (one short epoch each), up to reports/lavit.md; the attention analyses (`attention_sink`,
    `calibrate`) of those four and of the random timm DeiT III-S file; and the two ablation tables, one variant each
    (EDIT-T with W_q/W_o in its decoder, LaViT-T without the DP loss). Every job logs to a real `mlflow server`.
    Read by test_mlflow_server.py, test_baselines.py, test_attention_workflow.py, test_timm_row.py,
    test_ablation_workflow.py and test_workflow.py."""
    import yaml

    work = copy_workflow(tmp_path_factory.mktemp("shared") / "wf")
    cfg = yaml.safe_load((work / "config" / "config.yaml").read_text())
    cfg["name"] = "shared"
    cfg["models"] = {m: {"arch": a, "args": {"depth": 1}}
                     for m, a in (("EDIT-T", "edit_tiny_patch16_224"), ("DeiT3-T", "deit3_ref_tiny_patch16_224"))}
    cfg["models"]["ViTReg-T"] = {"arch": "vit_tiny_patch16_224", "args": {"depth": 1, "reg_tokens": 4}}   # plain timm
    demo = yaml.safe_load((work / "config" / "config.yaml").read_text())
    cfg["models"].update({m: demo["models"][m] for m in ("LaViT-T", "PVTv2-b1")})
    cfg["tables"] = {"table3": {"in1k": {"models": ["EDIT-T", "DeiT3-T", "ViTReg-T"], "resolutions": [224], "seeds": [0],
                                         "baselines": ["paper", "deit3_official"]}, "in21k": {"models": []}},
                     "lavit": demo["tables"]["lavit"]}
    cfg["tables"]["lavit"]["dense"] = {"detection": {"models": ["LaViT-T"], "schedules": ["1x"]},
                                       "segmentation": {"models": ["LaViT-T"], "heads": ["upernet"]}}
    # the ablation tables, one variant each: against EDIT-T's Table 3a run and LaViT-T's own
    cfg["tables"]["edit_ablation"] = {"base": "EDIT-T", "variants": {"qo_proj": {"args": {"decoder_qo_proj": True}}}}
    cfg["tables"]["lavit_ablation"] = {"base": "LaViT-T", "variants": {"no_dp_loss": {"set": {"dp_loss_weight": 0.0}}}}
    cfg["recipes"]["in1k_pretrain"]["set"].update(epochs=2, warmup_epochs=0)
    for recipe in ("deit3_official_in1k_small", "lavit_in1k"):
        cfg["recipes"][recipe]["set"].update(epochs=1, warmup_epochs=0)
    cfg["recipes"]["retinanet_1x"]["set"].update(epochs=1, lr_steps=[])
    cfg["recipes"]["upernet"]["set"].update(epochs=1)
    cfg["attention"]["count"] = 4
    (work / "shared.yaml").write_text(yaml.safe_dump(cfg))
    env = dict(os.environ, MLFLOW_TRACKING_URI=mlflow_server)
    r = snakemake(work, "reports/table3.md", "reproduce_lavit", "attention_sink", "calibrate",
                  "reproduce_edit_ablation", "reproduce_lavit_ablation", "--cores", "2",
                  "--configfile", "shared.yaml", timeout=1200, env=env)
    return SimpleNamespace(work=work, cfg=cfg, result=r, out=r.stdout + r.stderr, uri=mlflow_server, env=env)


def snakemake(work: Path, *args: str, timeout: int = 600, env=None) -> subprocess.CompletedProcess:
    """Run snakemake in ``work``; targets go first (--configfile takes several files)."""
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=work, capture_output=True, text=True,
                          timeout=timeout, env=env)


def job_stats(output: str) -> dict:
    """The 'Job stats' table of a snakemake run or dry run."""
    lines = output.split("Job stats:", 1)[1].splitlines()[3:]
    stats = {}
    for line in lines:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        stats[parts[0]] = int(parts[1])
    return stats


def small_config(work: Path, demo_root: Path, tables: dict) -> dict:
    """The demo config named 'small': one depth-1 EDIT-T in ``tables``, on the session's demo data (no job makes it)."""
    import yaml

    cfg = yaml.safe_load((work / "config" / "config.yaml").read_text())
    cfg["name"] = "small"
    cfg["data"].update(root=str(demo_root), generate_demo=False)
    cfg["models"] = {"EDIT-T": {"arch": "edit_tiny_patch16_224", "args": {"depth": 1}}}
    cfg["tables"] = tables
    return cfg


def write_config(work: Path, name: str, **changes) -> str:
    """The demo config with ``changes`` (dotted keys -> values), written as ``<name>.yaml`` in ``work``."""
    import yaml

    cfg = yaml.safe_load((work / "config" / "config.yaml").read_text())
    for dotted, value in changes.items():
        node = cfg
        *path, last = dotted.split(".")
        for key in path:
            node = node[key]
        node[last] = value
    (work / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
    return f"{name}.yaml"
