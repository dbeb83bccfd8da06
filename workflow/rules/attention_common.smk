# Helpers of attention.smk (the linter keeps functions and rules in separate files): the config's
# `attention.models` checked and completed, and the flags each job gets. Checkpoint paths of this run's own
# models come from run_dir() and the *_runs() helpers of common.smk.
import os
import sys

ATTENTION = config.get("attention") or {}
ATTENTION_DIR = "reports/attention"


def classifier_checkpoints():
    """(run folder, model, seed) of every ImageNet classifier this config trains, in the tables' order."""
    found = []
    for run, model, half, seed in table3_runs():
        if half == "a":
            found.append(("in1k_224", model, seed))   # a 384 cell fine-tunes the 224 pretraining
        found.append((run, model, seed))
    found += lavit_runs()
    found += [("in1k_224", model, seed) for _, model, seed in table4_runs() + table5_runs()]
    return list(dict.fromkeys(found))


def _trained_checkpoint(entry, where):
    """(run, model, seed) of a `trained:` entry: its run (default: in1k_224, lavit_224, in21k_224, whichever
    trains it first) and seed (default: the first that run trains), among what this config trains; None if no
    table of this config trains it on ImageNet."""
    model = entry["trained"]
    trained = [(r, m, s) for r, m, s in classifier_checkpoints() if m == model]
    if not trained:
        return None
    runs = list(dict.fromkeys(r for r, _, _ in trained))
    run = entry.get("run") or next((r for r in ("in1k_224", "lavit_224", "in21k_224") if r in runs), runs[0])
    if run not in runs:
        raise ValueError(f"{where}.run: this config trains {model!r} in {', '.join(runs)}, not in {run!r}")
    seeds = [s for r, _, s in trained if r == run]
    seed = entry.get("seed", seeds[0])
    if seed not in seeds:
        raise ValueError(f"{where}.seed: {model!r} is trained in {run} with seeds {seeds}, not {seed}")
    return run, model, seed


def attention_models():
    """The `attention.models` entries, checked and completed: name, kind (timm / trained) and where each comes from."""
    entries, names = [], set()
    for i, spec in enumerate(ATTENTION.get("models") or []):
        where = f"attention.models[{i}]"
        if bool(spec.get("timm")) == bool(spec.get("trained")):
            raise ValueError(f"{where}: give either timm: NAME (published or checkpoint weights) or trained: LABEL")
        entry = dict(spec)
        if spec.get("timm"):
            if bool(spec.get("pretrained")) == bool(spec.get("checkpoint")):
                raise ValueError(f"{where}: timm {spec['timm']!r} needs pretrained: true or checkpoint: FILE (one)")
            entry.update(kind="timm", name=spec.get("name") or spec["timm"])
        else:
            for key in ("pretrained", "checkpoint", "args", "published_top1"):
                if spec.get(key):
                    raise ValueError(f"{where}: {key} is for timm models; trained: {spec['trained']!r} is this run's")
            found = _trained_checkpoint(spec, where)
            if found is None:         # a config that drops a table keeps the demo's list: its models are left out
                print(f"{where}: no table of this config trains {spec['trained']!r} on ImageNet: left out of the "
                      "attention analyses", file=sys.stderr)
                continue
            run, model, seed = found
            entry.update(kind="trained", name=spec.get("name") or model, run=run, seed=seed,
                         weights=f"{run_dir(run, model, seed)}/model.pth")
        if not re.fullmatch(MODEL_LABEL, entry["name"]):
            raise ValueError(f"{where}.name: {entry['name']!r} is no folder name ({MODEL_LABEL}); set name:")
        if entry["name"] in names:
            raise ValueError(f"{where}: two entries are named {entry['name']!r}; give one a name:")
        names.add(entry["name"])
        entries.append(entry)
    return entries


ATTENTION_MODELS = {entry["name"]: entry for entry in attention_models()}
CALIBRATED = [name for name, e in ATTENTION_MODELS.items() if e["kind"] == "timm" and e.get("calibrate", True)]
ATTENTION_NAMES = "|".join(re.escape(name) for name in ATTENTION_MODELS) or MODEL_LABEL
# what `all` gets from this file
ATTENTION_REPORTS = (["reports/attention_sink.md"] if ATTENTION_MODELS else []) + (
    ["reports/calibration.md"] if CALIBRATED else [])


def attention_source(name):
    """The model flags of `editrepro attention-sink` / `evaluate` for an entry."""
    e = ATTENTION_MODELS[name]
    if e["kind"] == "trained":
        return f"--weights {shlex.quote(e['weights'])}"
    flags = f"--model {shlex.quote(e['timm'])} " + (
        "--pretrained" if e.get("pretrained") else f"--checkpoint {shlex.quote(e['checkpoint'])}")
    return flags + model_arg_flags(e.get("args"))


def model_arg_flags(args):
    """` --model-arg k=v ...` (editrepro.plan.json_flags), with its leading space; none without args."""
    return f" {json_flags('--model-arg', args)}" if args else ""


def random_weights_args(wildcards, output):
    """The timm arguments of the entry whose checkpoint this file is (its architecture: depth, reg_tokens, ...)."""
    path = os.path.normpath(output[0])
    entry = next((e for e in ATTENTION_MODELS.values() if e.get("checkpoint")
                  and os.path.normpath(e["checkpoint"]) == path), {})
    return model_arg_flags(entry.get("args"))


def attention_weights(wildcards):
    """A file the entry's weights are read from (the workflow makes it, or it must exist); none for timm's own."""
    e = ATTENTION_MODELS[wildcards.name]
    return [e["weights"]] if e["kind"] == "trained" else [e["checkpoint"]] if e.get("checkpoint") else []


def attention_images(wildcards, input):
    """The images every model is analysed on: attention.images, else ImageNet-1k's val/ (the first of each class)."""
    folder = ATTENTION.get("images")
    return shlex.quote(folder if folder else f"{data_root_of('imagenet1k', input)}/val")


def attention_note():
    return shlex.quote("" if config["comparable_to_paper"] else f"config '{NAME}': stand-in data, not comparable")
