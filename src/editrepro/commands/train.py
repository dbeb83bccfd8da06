"""``editrepro train``: one training job (pretraining, fine-tuning or transfer).

A recipe preset plus the job's model and data; ``--set key=value`` overrides recipe keys
(YAML values). ``--config`` starts from a job's saved ``config.yaml`` instead. Run it
under ``torchrun --nproc_per_node=N`` for several GPUs; run the same command again after
a preemption and it resumes from the output folder's checkpoint.

The output folder belongs to one process at a time: ``train.lock`` names its holder (host, pid, Slurm
job, since when) and is removed on exit. A second process on the folder exits 5 and touches nothing. A
lock whose holder died is taken over: on the same host at once (its pid is gone), from any host once the
holder has not refreshed it for 5 minutes (it does every 30 s; ``EDITREPRO_LOCK_STALE_S`` changes the 5
minutes); a lock of another host touched more recently is watched until it is touched again (refused) or
goes stale (taken over). Run again on a finished folder of the same configuration, the job does nothing and
prints its metrics; on a folder of another configuration (a changed recipe) it moves the old
``checkpoint.pth``, ``log.jsonl`` (and ``model.pth``, ``metrics.json``) aside as
``checkpoint.<old config hash>.pth`` ... and starts afresh. Details: ``docs/training_jobs.md``.

Exit codes: 0 done (or already done), 2 bad configuration or unreadable weights file (named),
3 loss became NaN/inf (the last good checkpoint, if any, kept), 4 more unreadable samples than
--max-bad-samples (named in the error), 5 the output folder is in use by another live process (named),
6 a job file could not be written (``no space left on <folder>``, an unwritable folder; the previous
checkpoint is kept), 75 stopped by SIGTERM/SIGUSR1 after checkpointing (run again to resume).
"""
import argparse
import json
import sys
from pathlib import Path


HELP = "train one model on one dataset with a recipe of Table 2"


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_argument_group("what to train")
    src.add_argument("--config", help="a job's config.yaml to start from (flags below override it)")
    src.add_argument("--recipe", help="recipe preset, e.g. config/recipes/in1k_pretrain.yaml")
    src.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a recipe key (repeatable), e.g. --set epochs=3")
    src.add_argument("--model", help="timm model name, e.g. edit_small_patch16_224")
    src.add_argument("--img-size", type=int, help="training and evaluation resolution (default 224)")
    src.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                     help="extra timm.create_model argument (repeatable), e.g. --model-arg depth=4")
    src.add_argument("--init-checkpoint", help="weights to start from (fine-tuning, transfer)")
    data = p.add_argument_group("data")
    data.add_argument("--dataset", help="dataset name (editrepro.data.DATASETS)")
    data.add_argument("--data-root", help="the dataset's root folder")
    data.add_argument("--train-split", default=None)
    data.add_argument("--val-split", default=None)
    data.add_argument("--data-option", action="append", default=[], metavar="KEY=VALUE",
                      help="extra reader option (repeatable)")
    data.add_argument("--workers", type=int, default=None, help="data-loading processes per device")
    run = p.add_argument_group("run")
    run.add_argument("--output", help="job folder: checkpoints, log.jsonl, metrics.json")
    run.add_argument("--per-device-batch", type=int, help="default: batch_size / devices (no accumulation)")
    run.add_argument("--seed", type=int)
    run.add_argument("--device", choices=["auto", "cpu", "cuda"])
    run.add_argument("--amp", choices=["auto", "bf16", "fp16", "off"], help="auto: bf16 on GPU, fp32 on CPU")
    run.add_argument("--compile", action="store_true", default=None, help="torch.compile the model")
    run.add_argument("--grad-checkpointing", action="store_true", default=None,
                     help="activation checkpointing (timm's set_grad_checkpointing): less memory, same result")
    run.add_argument("--checkpoint-every", type=float, metavar="MINUTES",
                     help="also checkpoint mid-epoch this often (default: 30 on GPU, off on CPU; 0: off)")
    run.add_argument("--max-bad-samples", type=int, metavar="N",
                     help="unreadable samples tolerated (replaced) before the job stops (default: 0.1%% of the set)")
    run.add_argument("--eval-every", type=int)
    run.add_argument("--experiment", help="MLflow experiment (default: 'default')")
    run.add_argument("--run-name")
    run.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="MLflow tag (repeatable)")


def _kv(items, what):
    from ..recipes import ConfigError, parse_overrides

    try:
        return parse_overrides(items)
    except ConfigError as e:
        raise ConfigError(f"{what}: {e}") from None


def build_config(args: argparse.Namespace):
    from ..schema import load_yaml
    from ..recipes import ConfigError, TrainConfig, load_recipe

    base = {}
    if args.config:
        path = Path(args.config)
        if not path.is_file():
            raise FileNotFoundError(f"job config {path} does not exist")
        base = load_yaml(path) or {}   # YAML 1.2 floats, as every config of the project is read
    recipe_overrides = _kv(args.overrides, "--set")
    if args.recipe:
        recipe = load_recipe(args.recipe, recipe_overrides)
    elif "recipe" in base:
        from ..recipes import recipe_from_dict
        recipe = recipe_from_dict({**base["recipe"], **recipe_overrides}, source=args.config)
    else:
        raise ConfigError("give --recipe (a preset in config/recipes/) or --config")
    data = dict(base.get("data", {}))
    for key, value in (("name", args.dataset), ("root", args.data_root), ("train_split", args.train_split),
                       ("val_split", args.val_split), ("num_workers", args.workers)):
        if value is not None:
            data[key] = value
    data["options"] = {**data.get("options", {}), **_kv(args.data_option, "--data-option")}
    missing = [flag for flag, key in (("--dataset", "name"), ("--data-root", "root")) if key not in data]
    job = {k: v for k, v in base.items() if k not in ("recipe", "data")}
    for key, value in (("model", args.model), ("img_size", args.img_size), ("output_dir", args.output),
                       ("init_checkpoint", args.init_checkpoint), ("per_device_batch", args.per_device_batch),
                       ("seed", args.seed), ("device", args.device), ("amp", args.amp), ("compile", args.compile),
                       ("grad_checkpointing", args.grad_checkpointing), ("checkpoint_every", args.checkpoint_every),
                       ("max_bad_samples", args.max_bad_samples),
                       ("eval_every", args.eval_every), ("experiment", args.experiment), ("run_name", args.run_name)):
        if value is not None:
            job[key] = value
    job["model_kwargs"] = {**job.get("model_kwargs", {}), **_kv(args.model_arg, "--model-arg")}
    job["tags"] = {**job.get("tags", {}), **{k: str(v) for k, v in _kv(args.tag, "--tag").items()}}
    missing += [flag for flag, key in (("--model", "model"), ("--output", "output_dir")) if key not in job]
    if missing:
        raise ConfigError(f"missing {', '.join(missing)}")
    from ..data import DATASETS
    from ..models import check_model_name
    from ..schema import did_you_mean

    check_model_name(job["model"])                  # before any data is read: a typo fails in a second
    if data["name"] not in DATASETS:
        raise ConfigError(f"unknown dataset {data['name']!r}.{did_you_mean(data['name'], DATASETS)} "
                          f"Known: {', '.join(DATASETS)}")
    return TrainConfig.from_dict({**job, "data": data, "recipe": recipe.as_dict()})   # unknown keys named


def run(args: argparse.Namespace) -> int:
    from ..recipes import ConfigError
    from ..training.engine import NonFiniteLossError
    from ..data.bad_samples import TooManyBadSamples
    from ..fileio import StorageError, no_space_error
    from ..training.trainer import (EXIT_BAD_SAMPLES, EXIT_LOCKED, EXIT_NONFINITE, EXIT_PREEMPTED, EXIT_STORAGE,
                                    JobFolderLocked, Preempted, train)

    try:
        cfg = build_config(args)
    except ConfigError as e:
        print(f"editrepro train: error: {e}", file=sys.stderr)
        return 2
    exits = ((NonFiniteLossError, EXIT_NONFINITE), (TooManyBadSamples, EXIT_BAD_SAMPLES),
             (JobFolderLocked, EXIT_LOCKED), (StorageError, EXIT_STORAGE))
    try:
        metrics = train(cfg)
    except Preempted as e:
        print(f"editrepro train: {e}", file=sys.stderr)
        return EXIT_PREEMPTED
    except tuple(error for error, _ in exits) as e:
        print(f"editrepro train: error: {e}", file=sys.stderr)
        return next(code for error, code in exits if isinstance(e, error))
    except (OSError, RuntimeError) as e:
        full = no_space_error(e)
        if full is None:
            raise
        where = f" writing {full.filename}" if full.filename else f" under {cfg.output_dir}"
        print(f"editrepro train: error: no space left{where} ({full.strerror}): free some space", file=sys.stderr)
        return EXIT_STORAGE
    print(json.dumps({k: v for k, v in metrics.items() if not isinstance(v, dict)}))
    return 0
