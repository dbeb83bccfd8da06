"""What a wrong batch split or a broken YAML file says, and YAML 1.2 numbers wherever a recipe value comes from."""
import re

import pytest
import yaml

from editrepro.schema import ConfigError, load_yaml, parse_yaml_value, yaml12_numbers
from editrepro.recipes import batch_plan, load_recipe, parse_overrides


def works(batch, per_device, world):
    """Whether a split is possible, by the definition (per-device batch x devices x steps = batch)."""
    return per_device * world <= batch and batch % (per_device * world) == 0


@pytest.mark.parametrize("per_device", [None, 16, 64])
@pytest.mark.parametrize("world", [1, 2, 3])
def test_a_batch_that_does_not_split_suggests_only_values_that_work(per_device, world):
    batch = 40
    chosen = per_device or batch // world
    if works(batch, chosen, world):
        assert batch_plan(batch, per_device, world) == (chosen, batch // (chosen * world))
        return
    with pytest.raises(ConfigError) as e:
        batch_plan(batch, per_device, world)
    text = str(e.value)
    assert f"batch_size {batch}" in text and f"{world} devices" in text
    fits = re.search(r"choose a per_device_batch that divides \d+ \(batch_size / devices\): ([\d, ]+)$", text)
    if fits:     # every value listed works on these devices, and every value that works is listed
        listed = [int(x) for x in fits.group(1).split(", ")]
        assert listed == [p for p in range(1, batch + 1) if works(batch, p, world)]
        for p in listed:
            assert batch_plan(batch, p, world)[0] == p
    else:        # 3 devices: no per-device batch works (the old message said "dividing 13"), other device counts do
        assert world == 3 and "dividing 13" not in text and "13" not in text
        assert not any(works(batch, p, world) for p in range(1, batch + 1))
        counts = re.search(r"run on a number of devices that divides it \(([\d, ]+)\)", text).group(1)
        assert [int(x) for x in counts.split(", ")] == [w for w in range(1, 65)
                                                          if any(works(batch, p, w) for p in range(1, batch + 1))]


def test_the_job_and_the_planning_share_one_rule():
    from synthetic import job

    cfg = job("/tmp/x", batch_size=40, per_device_batch=None)
    with pytest.raises(ConfigError, match="no per_device_batch works on 3 devices"):
        cfg.batch_plan(3)
    assert cfg.batch_plan(2) == batch_plan(40, None, 2) == (20, 1)


def test_a_yaml_syntax_error_names_file_and_line(tmp_path):
    preset = tmp_path / "broken.yaml"
    preset.write_text("name: broken\nepochs: 10\nopt_betas: [0.9, 0.999\nlr: 1.0e-3\n")
    with pytest.raises(ConfigError) as e:
        load_yaml(preset)
    text = str(e.value)
    assert text.startswith(f"{preset}: not valid YAML: line 4, column 3")   # where the unclosed [ runs into `lr:`
    assert "from line 3" in text                                            # ... opened on line 3
    with pytest.raises(ConfigError, match=re.escape(f"{preset}: not valid YAML: line 4")):
        load_recipe(preset)
    with pytest.raises(ConfigError, match=re.escape("override 'opt_betas=[0.9, 0.99': not valid YAML: line 1")):
        parse_overrides(["opt_betas=[0.9, 0.99"])      # --set on the command line


def test_yaml_1_2_numbers_wherever_a_recipe_value_comes_from():
    # a config's `set:` as Snakemake reads it (YAML 1.1: 2e-3 is a string), and --set on the command line (YAML 1.2)
    snakemake_read = yaml.safe_load("set: {lr: 2e-3, min_lr: 1E-5, warmup_lr: 1.0e-6, rand_augment: rand-m9-mstd0.5, "
                                    "drop_path: {small: 1e-1}, epochs: 3, name: '12'}")["set"]
    assert snakemake_read["lr"] == "2e-3"      # the string the workflow used to reject
    fixed = yaml12_numbers(snakemake_read)
    assert fixed == {"lr": 0.002, "min_lr": 1e-05, "warmup_lr": 1e-06, "rand_augment": "rand-m9-mstd0.5",
                     "drop_path": {"small": 0.1}, "epochs": 3, "name": "12"}
    assert parse_overrides(["lr=2e-3", "min_lr=1E-5"]) == {"lr": fixed["lr"], "min_lr": fixed["min_lr"]}
    assert parse_yaml_value("2e-3") == 0.002
