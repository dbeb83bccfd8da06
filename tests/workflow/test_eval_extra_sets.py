"""ImageNet-V2 and ImageNet-ReaL in the workflow: every ImageNet-1k evaluation, and only those, gets the flags
where the config gives data.imagenet_v2 / data.imagenet_real_labels; the DAG is the same with or without them."""
import re

import yaml
from conftest import job_stats, snakemake

IMAGENET1K_RUNS = re.compile(r"(in1k|in21k)(_official)?_(224|384)|lavit_224|edit_ablation|lavit_ablation")   # _official: DeiT
# III's own recipe; the ablation tables' variants are ImageNet-1k classifiers too


def evaluate_commands(out: str) -> dict:
    """Run folder / model / seed -> the `editrepro evaluate` command of each planned evaluation."""
    commands = {}
    for line in out.splitlines():
        if "editrepro evaluate --weights" in line:
            job = re.search(r"--weights \S+/runs/(\S+)/model\.pth", line).group(1)
            commands[job] = line
    return commands


def plan(workflow, *config):
    r = snakemake(workflow, "-n", "-p", "all", *config)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    return job_stats(out), evaluate_commands(out)


def test_every_imagenet1k_evaluation_and_only_those(workflow):
    stats, commands = plan(workflow)
    kinds = {job.split("/")[0] for job in commands}
    assert {"in1k_224", "in21k_224", "in21k_384", "lavit_224"} <= kinds and any(k.startswith("transfer_") for k in kinds)
    for job, command in commands.items():
        extra = " --imagenet-v2 data/demo/imagenetv2-matched-frequency-format-val --real-labels " \
                "data/demo/imagenet1k/real.json "
        if IMAGENET1K_RUNS.fullmatch(job.split("/")[0]):
            assert extra in command and "--dataset imagenet1k --data-root data/demo/imagenet1k --split val" in command
        else:
            assert "--imagenet-v2" not in command and "--real-labels" not in command, command

    # without the keys (null, the schema's default): no flags, and the same jobs
    cfg = yaml.safe_load((workflow / "config" / "config.yaml").read_text())
    cfg["data"]["imagenet_v2"] = None
    del cfg["data"]["imagenet_real_labels"]
    (workflow / "none.yaml").write_text(yaml.safe_dump(cfg))
    stats_none, commands_none = plan(workflow, "--configfile", "none.yaml")
    assert stats_none == stats and commands_none.keys() == commands.keys()
    assert not any("--imagenet-v2" in c or "--real-labels" in c for c in commands_none.values())

    # one of the two, an absolute path as given
    cfg["data"]["imagenet_real_labels"] = "/elsewhere/real.json"
    (workflow / "real.yaml").write_text(yaml.safe_dump(cfg))
    _, commands_real = plan(workflow, "--configfile", "real.yaml")
    imagenet1k = [c for job, c in commands_real.items() if IMAGENET1K_RUNS.fullmatch(job.split("/")[0])]
    assert imagenet1k and all("--split val --real-labels /elsewhere/real.json " in c and "--imagenet-v2" not in c
                              for c in imagenet1k)


def test_the_paper_config_finds_the_standard_files_under_its_root(workflow):
    _, commands = plan(workflow, "--configfile", "config/paper.yaml")   # null by default: nothing extra to have
    assert not any("--imagenet-v2" in c or "--real-labels" in c for c in commands.values())
    cfg = yaml.safe_load((workflow / "config" / "paper.yaml").read_text())
    cfg["data"].update(imagenet_v2="imagenetv2-matched-frequency-format-val", imagenet_real_labels="real.json")
    (workflow / "paper_v2.yaml").write_text(yaml.safe_dump(cfg))
    _, commands = plan(workflow, "--configfile", "paper_v2.yaml")
    imagenet1k = [c for job, c in commands.items() if IMAGENET1K_RUNS.fullmatch(job.split("/")[0])]
    assert len(imagenet1k) == 6 + 8 + 6
    assert all("--imagenet-v2 /datasets/imagenetv2-matched-frequency-format-val --real-labels /datasets/real.json "
               in c for c in imagenet1k)


def test_a_wrong_type_is_named(workflow):
    cfg = yaml.safe_load((workflow / "config" / "config.yaml").read_text())
    cfg["data"]["imagenet_v2"] = 3
    (workflow / "bad.yaml").write_text(yaml.safe_dump(cfg))
    r = snakemake(workflow, "-n", "reproduce_table3", "--configfile", "bad.yaml")
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "imagenet_v2" in out
