"""The cost estimate against hand-computed GPU-hours."""
import json

import pandas as pd
import pytest

from editrepro.analysis.counting import job_counts
from editrepro.models.complexity import count_complexity
from editrepro.reporting import cost
from editrepro.reporting.cost import render_cost

CONFIG = {"name": "paper", "gpu": "A100 80GB", "peak_tflops": 312, "mfu": 0.5, "generate_demo": False}


def estimate(plan, config, **kw):
    """``reporting.cost.estimate`` with each job's GMACs and training images counted as the ``cost`` command
    counts them (``analysis.counting.job_counts``)."""
    return cost.estimate(plan, config, **kw, **job_counts(plan, bool(config.get("generate_demo"))))


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


# -- the seeds each claimed gain needs, and their GPU-hours --------------------------------------------------------

PAPER = {"table3": {"rows": [
    {"half": "a", "model": "EDIT-S", "img_size": 224, "top1": "81.8"},
    {"half": "a", "model": "DeiT3-S", "img_size": 224, "top1": "81.3"},
    {"half": "a", "model": "EDIT-T", "img_size": 224, "top1": "75.5"}]},
    "table4": {"rows": [{"model": "EDIT-S", "cifar10": "99.3"}, {"model": "DeiT3-S", "cifar10": "99.3"}]}}


def test_claims_priced_by_hand():
    from test_stats import power_by_integration

    from editrepro.reporting.power import claim_costs

    plan = [job(job=f"in1k_224/{m}/seed{s}", model=m, arch=a, seed=s)          # the recipe's 800 epochs
            for m, a in (("EDIT-S", "edit_small_patch16_224"), ("DeiT3-S", "deit3_ref_small_patch16_224"),
                         ("EDIT-T", "edit_tiny_patch16_224")) for s in (0, 1)]
    plan += [job(job=f"transfer_cifar10/{m}/seed0", model=m, arch=a, stage="transfer", dataset="cifar10",
                 recipe="config/recipes/transfer.yaml", overrides={"epochs": 2})
             for m, a in (("EDIT-S", "edit_small_patch16_224"), ("DeiT3-S", "deit3_ref_small_patch16_224"))]
    cells = [dict(table="table3", half="a", row=m, resolution=224, arch=a, jobs=[f"in1k_224/{m}"], seeds=[0, 1])
             for m, a in (("EDIT-S", "edit_small_patch16_224"), ("DeiT3-S", "deit3_ref_small_patch16_224"),
                          ("EDIT-T", "edit_tiny_patch16_224"))]
    cells += [dict(table="table4", half="", row=m, resolution=224, arch=a, column="cifar10", seeds=[0],
                   jobs=[f"in1k_224/{m}", "transfer_cifar10/" + m])
              for m, a in (("EDIT-S", "edit_small_patch16_224"), ("DeiT3-S", "deit3_ref_small_patch16_224"))]
    df = estimate(plan, CONFIG)
    claims = claim_costs(cells, PAPER, df, {"seed_sd": 0.2})

    # by hand: 3 x 2 x GMACs x images x epochs over 312 TFLOP/s x 50%, per job (hundreds of hours: printed whole)
    def hours(arch, images, epochs):
        return 3 * 2 * count_complexity(arch).gmacs * 1e9 * images * epochs / (312e12 * 0.5) / 3600

    edit, deit, tiny = (hours(a, 1_281_167, 800) for a in ("edit_small_patch16_224", "deit3_ref_small_patch16_224",
                                                          "edit_tiny_patch16_224"))
    sd_d = 2 ** 0.5 * 0.2
    n = next(k for k in range(2, 100) if power_by_integration(0.5, sd_d, k) >= 0.8)     # +0.5 claimed
    t3 = claims[claims.table == "table3"].iloc[0]
    assert (t3.a_row, t3.b_row, t3.claimed) == ("EDIT-S", "DeiT3-S", pytest.approx(0.5))
    assert t3.seeds_needed == n and t3.one_seed_gpu_hours == pytest.approx(edit + deit)
    assert t3.gpu_hours == pytest.approx(n * (edit + deit))
    assert t3.configured_seeds == 2 and t3.power_configured == pytest.approx(power_by_integration(0.5, sd_d, 2))
    # Table 4's CIFAR-10 cell: the paper claims no gain (99.3 against 99.3), so no number of seeds resolves it
    t4 = claims[claims.table == "table4"].iloc[0]
    assert t4.claimed == 0 and pd.isna(t4.seeds_needed) and pd.isna(t4.gpu_hours)
    transfer = [hours(a, 50_000, 2) for a in ("edit_small_patch16_224", "deit3_ref_small_patch16_224")]
    assert t4.one_seed_gpu_hours == pytest.approx(edit + deit + sum(transfer))
    assert "EDIT-T" not in set(claims.a_row)           # no DeiT3-T: no claim

    text = render_cost(df, {**CONFIG, "stats": {"seed_sd": 0.2}}, claims=claims)
    section = text.split("## Seeds each claimed gain needs", 1)[1]
    row = next(line for line in section.splitlines() if "Table 3a" in line)
    assert "EDIT-S vs DeiT3-S" in row and f"| {n} " in row and f"{n * (edit + deit):,.0f}" in row
    assert "none: no gain claimed" in section and "sqrt(2) x 0.2 = 0.28" in section
    # the matrix: EDIT-S's and DeiT3-S's pretraining at n seeds, the rest (EDIT-T's two seeds, the transfers' one)
    # as configured
    total = n * (edit + deit) + 2 * tiny + sum(transfer)
    assert f"every claim at 80% power: {total:,.0f} GPU-hours" in section
    assert f"({n} seeds): {n * (edit + deit + tiny + sum(transfer)):,.0f} GPU-hours" in section
    assert "1 of the 2 claims" in section


def test_a_larger_prior_needs_more_seeds():
    from editrepro.reporting.power import claim_costs

    plan = [job(job=f"in1k_224/{m}/seed0", model=m, arch=a) for m, a in
            (("EDIT-S", "edit_small_patch16_224"), ("DeiT3-S", "deit3_ref_small_patch16_224"))]
    cells = [dict(table="table3", half="a", row=m, resolution=224, arch=a, jobs=[f"in1k_224/{m}"], seeds=[0])
             for m, a in (("EDIT-S", "edit_small_patch16_224"), ("DeiT3-S", "deit3_ref_small_patch16_224"))]
    df = estimate(plan, CONFIG)
    low = claim_costs(cells, PAPER, df, {"seed_sd": 0.2}).iloc[0]
    high = claim_costs(cells, PAPER, df, {"seed_sd": 0.2, "seed_sd_by_table": {"table3": 0.5}}).iloc[0]
    assert high.sd_d == pytest.approx(2 ** 0.5 * 0.5) and high.seeds_needed > low.seeds_needed
    assert pd.isna(low.power_configured)                  # one configured seed: no test
