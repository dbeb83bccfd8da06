"""The cost estimate against hand-computed GPU-hours."""
import json

import pytest

from editrepro.models.complexity import count_complexity
from editrepro.reporting.cost import estimate, render_cost

CONFIG = {"name": "paper", "gpu": "A100 80GB", "peak_tflops": 312, "mfu": 0.5, "generate_demo": False}


def job(**kw):
    base = dict(job="in1k_224/EDIT-S", stage="pretrain_in1k", model="EDIT-S", arch="edit_small_patch16_224",
                args={}, img_size=224, resolution=224, dataset="imagenet1k",
                recipe="config/recipes/in1k_pretrain.yaml", overrides={}, benchmark="/nonexistent.tsv")
    return {**base, **kw}


def test_flop_estimate_by_hand():
    df = estimate([job()], CONFIG)
    macs = count_complexity("edit_small_patch16_224").gmacs * 1e9
    flops = 3 * 2 * macs * 1_281_167 * 800                    # fwd + bwd, every image of 800 epochs
    assert df.estimate_gpu_hours.item() == pytest.approx(flops / (312e12 * 0.5) / 3600)
    assert df.images.item() == 1_281_167 * 800 and df.epochs.item() == 800


def test_overrides_and_resolution_change_the_estimate():
    base = estimate([job()], CONFIG).estimate_gpu_hours.item()
    short = estimate([job(overrides={"epochs": 400})], CONFIG).estimate_gpu_hours.item()
    big = estimate([job(img_size=384, resolution=384)], CONFIG).estimate_gpu_hours.item()
    assert short == pytest.approx(base / 2)
    assert big / base == pytest.approx(count_complexity("edit_small_patch16_224", img_size=384).gmacs
                                       / count_complexity("edit_small_patch16_224").gmacs)


def test_throughput_counts_only_on_the_configured_gpu(tmp_path):
    bench = {"img_size": 224, "models": {"EDIT-S": {"images_per_sec": 1000.0}}}
    cpu, a100 = tmp_path / "cpu.json", tmp_path / "a100.json"
    cpu.write_text(json.dumps({**bench, "device": "CPU (x86_64, 2 threads)"}))
    a100.write_text(json.dumps({**bench, "device": "NVIDIA A100-SXM4-80GB"}))
    assert estimate([job()], CONFIG, throughput_files=[cpu]).throughput_gpu_hours.isna().all()
    df = estimate([job()], CONFIG, throughput_files=[cpu, a100])
    assert df.throughput_gpu_hours.item() == pytest.approx(1_281_167 * 800 / 1000 / 3600)
    text = render_cost(df, CONFIG)
    assert "Total estimate" in text and "in1k_224/EDIT-S" in text


def test_measured_hours_from_a_finished_job(tmp_path):
    bench = tmp_path / "bench.tsv"
    bench.write_text("s\th:m:s\tmax_rss\n7200.0\t2:00:00\t1\n")
    run = tmp_path / "runs" / "in1k_224" / "EDIT-S"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({"devices": 8}))
    df = estimate([job(benchmark=str(bench))], CONFIG, runs_root=tmp_path / "runs")
    assert df.measured_device_hours.item() == pytest.approx(16.0)


def test_cpu_cores_per_gpu_from_the_loader_benchmark():
    from editrepro.reporting.cost import cores_per_gpu

    loader = {"images_per_sec_per_core": {"in1k_pretrain": {"224": 250.0, "384": 125.0}}}
    assert cores_per_gpu(1000.0, "in1k_pretrain", 224, loader) == 4            # 1000 / 250
    assert cores_per_gpu(1001.0, "in1k_pretrain", 224, loader) == 5            # rounded up: never starve the GPU
    assert cores_per_gpu(300.0, "in1k_pretrain", 384, loader) == 3             # 300 / 125 -> 3
    assert cores_per_gpu(10.0, "in1k_pretrain", 32, loader) == 1               # the nearest measured size, at least 1
    assert cores_per_gpu(1000.0, "segmenter_ade20k", 512, loader) is None      # not measured: said, not guessed
    assert cores_per_gpu(1000.0, "in1k_pretrain", 224, None) is None
