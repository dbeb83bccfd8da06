"""A real `mlflow server` on 127.0.0.1: a tiny pipeline logs to it; MlflowClient sees every run arrive."""
import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
import yaml
from conftest import snakemake


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
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


def test_every_job_of_a_pipeline_arrives_on_the_server(workflow, mlflow_server, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    cfg = yaml.safe_load((workflow / "config/config.yaml").read_text())
    cfg["name"] = "tiny"
    cfg["models"] = {m: {"arch": a, "args": {"depth": 1}}
                     for m, a in (("EDIT-T", "edit_tiny_patch16_224"), ("DeiT3-T", "deit3_ref_tiny_patch16_224"))}
    cfg["tables"] = {"table3": {"in1k": {"models": ["EDIT-T", "DeiT3-T"]}}}
    cfg["recipes"]["in1k_pretrain"]["set"]["epochs"] = 2
    (workflow / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    targets = [f"results/tiny/eval/in1k_224/{m}/seed0.json" for m in ("EDIT-T", "DeiT3-T")]
    r = snakemake(workflow, *targets, "--cores", "2", "--configfile", "tiny.yaml")
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]

    client = MlflowClient(tracking_uri=mlflow_server)
    exp = client.get_experiment_by_name("table3")
    runs = {run.info.run_name: run for run in client.search_runs([exp.experiment_id], "tags.config = 'tiny'")}
    assert sorted(runs) == ["tiny/in1k_224/DeiT3-T/seed0", "tiny/in1k_224/EDIT-T/seed0"]
    for label, family in (("EDIT-T", "EDIT"), ("DeiT3-T", "DeiT3")):
        run = runs[f"tiny/in1k_224/{label}/seed0"]
        metrics = json.loads((workflow / f"results/tiny/runs/in1k_224/{label}/seed0/metrics.json").read_text())
        evaluation = json.loads((workflow / f"results/tiny/eval/in1k_224/{label}/seed0.json").read_text())
        assert run.info.status == "FINISHED" and run.info.run_id == metrics["run_id"] == evaluation["run_id"]
        assert run.data.params["recipe.epochs"] == "2" and run.data.params["derived.world_size"] == "1"
        assert run.data.params["model"] == cfg["models"][label]["arch"]
        assert run.data.metrics["val/top1"] == pytest.approx(metrics["top1"])
        assert run.data.metrics["eval/imagenet1k_val_32/top1"] == pytest.approx(evaluation["top1"])
        assert [m.step for m in client.get_metric_history(run.info.run_id, "epoch/train_loss")] == [0, 1]
        tags = run.data.tags
        assert (tags["table"], tags["row"], tags["family"], tags["size"], tags["resolution"], tags["stage"]) == \
            ("table3", label, family, "tiny", "224", "pretrain_in1k")
        assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"metrics.json", "config.yaml", "log.jsonl"}
