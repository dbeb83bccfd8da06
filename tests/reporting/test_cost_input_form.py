"""CPU cores per GPU for ImageNet-21k pretraining follow the images it reads: resized (224 squish) or full size."""
import math

from editrepro.analysis.counting import job_counts
from editrepro.reporting.cost import cores_per_gpu, estimate

CONFIG = {"name": "paper", "gpu": "A100 80GB", "peak_tflops": 312, "mfu": 0.5, "generate_demo": False}
LOADER = {"images_per_sec_per_core": {"in21k_pretrain": {"224": 100.0, "384": 50.0}},
          "images_per_sec_per_core_resized": {"in21k_pretrain": {"224": 250.0}}}


def test_the_resized_figure_for_resized_images_the_full_size_one_otherwise():
    assert cores_per_gpu(1000.0, "in21k_pretrain", 224, LOADER, "resized") == 4      # 1000 / 250
    assert cores_per_gpu(1000.0, "in21k_pretrain", 224, LOADER, "full") == 10        # 1000 / 100
    assert cores_per_gpu(1000.0, "in21k_pretrain", 224, LOADER) == 10                # default: full size
    # a loader file measured before the resized figure existed: the full-size figure, as before
    old = {"images_per_sec_per_core": LOADER["images_per_sec_per_core"]}
    assert cores_per_gpu(1000.0, "in21k_pretrain", 224, old, "resized") == 10
    assert cores_per_gpu(1000.0, "in21k_pretrain", 224, None, "resized") is None
    # a recipe measured at full size only keeps its figure for resized input too
    assert cores_per_gpu(1000.0, "in1k_pretrain", 224, {**LOADER, "images_per_sec_per_core": {
        "in1k_pretrain": {"224": 200.0}}}, "resized") == 5


def test_the_estimate_reads_each_jobs_input_form():
    base = dict(stage="pretrain_in21k", model="DeiT3-B", arch="deit3_ref_base_patch16_224", args={}, img_size=224,
                resolution=224, dataset="imagenet21k", recipe="config/recipes/in21k_pretrain.yaml", overrides={},
                benchmark="/nonexistent.tsv")
    plan = [dict(base, job="in21k_pretrain/DeiT3-B/seed0", input_form="resized"),
            dict(base, job="in21k_pretrain/DeiT3-B/seed1", input_form="full"),
            dict(base, job="in21k_pretrain/DeiT3-B/seed2")]                    # a plan written before the key
    df = estimate(plan, CONFIG, loader=LOADER, **job_counts(plan, demo=False))
    rate = df["gpu_images_per_sec"].iloc[0]
    assert (df["gpu_images_per_sec"] == rate).all()
    assert df["cpu_cores_per_gpu"].tolist() == [math.ceil(rate / 250), math.ceil(rate / 100), math.ceil(rate / 100)]
