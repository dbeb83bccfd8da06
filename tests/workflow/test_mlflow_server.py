"""A real `mlflow server` on 127.0.0.1: a tiny pipeline logs to it; MlflowClient sees every run arrive.

The pipeline is the suite's shared reduced demo run (`shared_run` in conftest.py: Table 3a's EDIT-T and DeiT3-T
at depth 1 for two epochs, DeiT3-T by DeiT III's own recipe, LaViT-T, the attention analyses), run once with the
server as its tracking URI."""
import json

import pytest


def test_every_job_of_a_pipeline_arrives_on_the_server(shared_run):
    from mlflow.tracking import MlflowClient

    workflow, cfg = shared_run.work, shared_run.cfg
    assert shared_run.result.returncode == 0, shared_run.out[-3000:]
    client = MlflowClient(tracking_uri=shared_run.uri)
    exp = client.get_experiment_by_name("table3")
    runs = {run.info.run_name: run for run in client.search_runs([exp.experiment_id], "tags.config = 'shared'")}
    assert sorted(runs) == ["shared/in1k_224/DeiT3-T/seed0", "shared/in1k_224/EDIT-T/seed0",
                            "shared/in1k_224/ViTReg-T/seed0", "shared/in1k_official_224/DeiT3-T/seed0"]
    for label, family in (("EDIT-T", "EDIT"), ("DeiT3-T", "DeiT3")):
        run = runs[f"shared/in1k_224/{label}/seed0"]
        metrics = json.loads((workflow / f"results/shared/runs/in1k_224/{label}/seed0/metrics.json").read_text())
        evaluation = json.loads((workflow / f"results/shared/eval/in1k_224/{label}/seed0.json").read_text())
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
