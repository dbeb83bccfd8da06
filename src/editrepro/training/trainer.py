"""``train(config)``: the one entry point every training job of the workflow calls.

Resolves the batch plan, builds data, model, optimiser and tracking, resumes from the
job's own checkpoint if one exists, trains epoch by epoch (checkpoint after each, every
``checkpoint_every`` minutes mid-epoch, and on SIGTERM / SIGUSR1 at the next step boundary),
evaluates, and writes ``metrics.json``, the file the workflow's downstream rules read. Launch
one process or many with torchrun.

A job that a SIGKILL (node loss, the OOM killer) ends resumes from its newest checkpoint:
at most ``checkpoint_every`` minutes are lost. Samples that cannot be read are replaced and
counted (``data.bad_samples``); past ``max_bad_samples`` the job stops naming them. The MLflow
run ends FINISHED, KILLED (preempted: resumable) or FAILED with the error as a tag.

One process per job folder (``train.lock``, ``editrepro.joblock``). A checkpoint of another configuration
(a changed recipe) is moved aside as ``checkpoint.<old hash>.pth`` and the job starts afresh; a finished
job of the same configuration is not rewritten. A full disk is named (``no space left on <folder>``) and
the previous checkpoint kept.
"""
import json
import logging
import os
import platform
import resource
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import torch
import yaml
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import BatchSampler, DataLoader, Dataset

from ..data.bad_samples import BadSampleLog, TolerantDataset
from ..data.identity import dataset_digest
from ..families import model_family
from ..fileio import StorageError, atomic_write_text
from ..joblock import JobFolderLocked, JobLock
from ..models.complexity import count_params
from ..provenance import environment_report, git_commit
from ..recipes import TrainConfig
from ..runtime.amp import autocast_dtype
from ..runtime.distributed import DistInfo, all_reduce_sum, barrier, init_distributed
from ..runtime.sampling import ResumableSampler, SeededDataset, seed_all
from ..torchfiles import UnreadableTorchFile, load_torch_file
from ..tracking import Tracker
from .checkpoint import CHECKPOINT, FINAL_WEIGHTS, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .engine import NonFiniteLossError, StepContext, train_one_epoch
from .optim import schedule_epoch
from .tasks import RECORD_KEY, task_for

__all__ = ["train", "Preempted", "JobFolderLocked", "StorageError", "EXIT_PREEMPTED", "EXIT_NONFINITE",
           "EXIT_BAD_SAMPLES", "EXIT_LOCKED", "EXIT_STORAGE"]

_logger = logging.getLogger(__name__)

EXIT_PREEMPTED = 75   # EX_TEMPFAIL: checkpoint written, run the same command again to resume
EXIT_NONFINITE = 3
EXIT_BAD_SAMPLES = 4
EXIT_LOCKED = 5        # another live process trains into the job folder (named); nothing was touched
EXIT_STORAGE = 6       # a file of the job could not be written (no space left, unwritable folder): named


class Preempted(Exception):
    """SIGTERM / SIGUSR1 arrived; the job checkpointed at a step boundary and stopped."""


class _StopFlag:
    """Set by SIGTERM / SIGUSR1 (Slurm's warning before preemption or the time limit)."""

    def __init__(self, rank: int = 0):
        self.signal: Optional[int] = None
        self._previous = {}
        self.rank = rank
        self._pid = os.getpid()

    def install(self) -> None:
        self._pid = os.getpid()
        for sig in (signal.SIGTERM, signal.SIGUSR1):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread (tests calling train() from a thread)
                pass

    def _handle(self, signum, frame) -> None:
        first = self.signal is None
        self.signal = signum
        # once per rank, by the rank itself: Slurm signals every process of a step, the DataLoader workers (forks
        # that inherit this handler) and a second signal too
        if first and os.getpid() == self._pid:
            _logger.warning("rank %d received %s: checkpointing at the next step boundary", self.rank,
                            signal.Signals(signum).name)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def __call__(self) -> bool:
        return self.signal is not None


def _peak_memory_gb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


@dataclass
class _Position:
    epoch: int = 0
    step: int = 0


def train(cfg: TrainConfig, datasets: Optional[Tuple[Dataset, Dataset]] = None) -> Dict[str, Any]:
    """Train ``cfg`` to completion (or to a preemption) and return the final metrics.

    ``datasets`` (already transformed train and validation sets) replaces building them
    from ``cfg.data``; tests and notebooks use it.

    The job folder is locked for the job's life (:class:`editrepro.joblock.JobLock`; another live process
    holding it: :class:`JobFolderLocked`, nothing read or written). Files of another configuration (a
    changed recipe) are moved aside with their config hash in the name and the job starts afresh; a
    finished job of this configuration is not run again: its ``metrics.json`` is returned as it is.
    """
    cfg = cfg.with_backbone_img_size()
    dist_info = init_distributed(cfg.device)
    out = Path(cfg.output_dir)
    cfg.batch_plan(dist_info.world_size)              # a bad batch plan fails before the folder is touched
    lock = _lock_job_folder(out, dist_info)
    try:
        if dist_info.is_main:
            _set_aside_other_configuration(out, cfg.config_hash())
        barrier()
        done = _finished_metrics(out, cfg)
        if done is not None:
            if dist_info.is_main:
                _logger.info("%s is already complete (metrics.json of config %s): nothing to do; delete its "
                             "metrics.json to train it again", out, cfg.config_hash())
            return done
        return _train(cfg, datasets, dist_info, out, lock)
    finally:
        if lock is not None:
            lock.release()


def _lock_job_folder(out: Path, dist_info: DistInfo) -> Optional[JobLock]:
    """Rank 0 takes the folder's lock; every rank learns whether it did (the others then stop too)."""
    lock, refusal = None, None
    if dist_info.is_main:
        try:
            try:
                out.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StorageError(e.errno, f"cannot create the job folder {out}: {e.strerror or e}") from None
            lock = JobLock(out).acquire()
        except (JobFolderLocked, StorageError) as e:
            refusal = e
    if dist_info.distributed:
        refused = all_reduce_sum(torch.tensor([0.0 if refusal is None else 1.0], device=dist_info.device))
        if refused.item() and refusal is None and not dist_info.is_main:
            raise JobFolderLocked(f"rank 0 could not lock the job folder {out} (its error says why)")
    if refusal is not None:
        raise refusal
    return lock


def _aside(path: Path, old_hash: str) -> Path:
    """``checkpoint.pth`` -> ``checkpoint.<old_hash>.pth`` (``.1``, ``.2``, ... if taken)."""
    target = path.with_name(f"{path.stem}.{old_hash}{path.suffix}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.stem}.{old_hash}.{n}{path.suffix}")
        n += 1
    return target


def _set_aside_other_configuration(out: Path, new_hash: str) -> None:
    """Move the files another configuration left in ``out`` aside, named by its config hash (never deleted).

    Snakemake reruns a job whose recipe changed after removing its model.pth and metrics.json; the
    checkpoint and log of the old recipe stay. Training them on would mix two recipes, so they move aside
    and the job starts afresh (a new MLflow run).
    """
    groups = []
    ckpt = out / CHECKPOINT
    if ckpt.is_file():
        try:
            state = load_torch_file(ckpt, "checkpoint", mmap=True)   # mapped: only the hash is read
        except UnreadableTorchFile as e:
            raise UnreadableTorchFile(f"{e}. Move it aside (or delete it) to train {out} afresh") from None
        old = state.get("config_hash", "unknown") if isinstance(state, dict) else "unknown"
        del state
        if old != new_hash:
            groups.append((old, [ckpt, out / "log.jsonl"]))
    metrics = out / "metrics.json"
    if metrics.is_file():
        try:
            old = json.loads(metrics.read_text(encoding="utf-8")).get("config_hash", "unknown")
        except (OSError, ValueError, AttributeError):
            old = "unknown"
        if old != new_hash:
            groups.append((old, [metrics, out / FINAL_WEIGHTS, out / "log.jsonl"]))
    for old, paths in groups:
        moved = []
        for path in paths:
            if path.is_file():
                target = _aside(path, old)
                os.replace(path, target)
                moved.append(f"{path.name} -> {target.name}")
        if moved:
            _logger.warning("%s was trained with another configuration (config hash %s, now %s): moved %s; "
                            "this job starts afresh", out, old, new_hash, ", ".join(moved))


def _finished_metrics(out: Path, cfg: TrainConfig) -> Optional[Dict[str, Any]]:
    """The metrics of a finished job of this configuration in ``out`` (model.pth and metrics.json), else None."""
    metrics, weights = out / "metrics.json", out / FINAL_WEIGHTS
    if not (metrics.is_file() and weights.is_file()):
        return None
    try:
        done = json.loads(metrics.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return done if isinstance(done, dict) and done.get("config_hash") == cfg.config_hash() else None


def _train(cfg: TrainConfig, datasets: Optional[Tuple[Dataset, Dataset]], dist_info: DistInfo, out: Path,
           lock: Optional[JobLock]) -> Dict[str, Any]:
    per_device, accum = cfg.batch_plan(dist_info.world_size)
    amp_dtype = autocast_dtype(cfg.amp, dist_info.device)
    seed_all(cfg.seed)

    task = task_for(cfg)
    train_set, val_set = datasets if datasets is not None else task.datasets()
    num_classes = int(getattr(train_set, "num_classes", 0) or getattr(getattr(train_set, "dataset", None), "num_classes", 0))
    if num_classes < 1:
        raise ValueError(f"the training set of {cfg.data.name!r} does not say how many classes it has (num_classes)")
    # the class names (label = index), saved with model.pth / checkpoint.pth: evaluate reads val with them
    class_list = getattr(train_set, "classes", None) or getattr(getattr(train_set, "dataset", None), "classes", None)
    class_list = [str(c) for c in class_list] if class_list else None

    model = task.model(num_classes)
    record = task.construction(num_classes)      # how to rebuild it (the record model() built from), saved with it
    if dist_info.distributed:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)   # the dense heads' BatchNorm, as mmseg's SyncBN
    if cfg.grad_checkpointing:
        _grad_checkpointing(model)
    model.to(dist_info.device)
    optimizer = task.optimizer(model)
    criterion = task.criterion()
    mixup = task.mixup(num_classes)
    scaler = torch.amp.GradScaler(dist_info.device.type) if amp_dtype == torch.float16 else None
    ema = task.ema(model)

    # resume from this job's own checkpoint
    pos, history, run_id, bad_state = _Position(), [], None, {}
    ckpt_path = out / CHECKPOINT
    if ckpt_path.is_file():
        state = load_checkpoint(ckpt_path)
        if state.get("classes") is not None and class_list is not None and list(state["classes"]) != class_list:
            from ..data.datasets._common import class_list_difference   # the data changed between attempts

            raise ValueError(f"{ckpt_path} was trained with other classes than {cfg.data.name} in {cfg.data.root} has "
                             "now (labels would change meaning mid-run): " + class_list_difference(
                                 state["classes"], class_list, "the checkpoint", "the dataset"))
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        if ema is not None and state.get("ema"):
            ema.load_state_dict(state["ema"])
        set_rng_state(state["rng"])
        pos, history, run_id = _Position(state["epoch"], state["step"]), list(state["history"]), state["run_id"]
        bad_state = state.get("bad_samples") or {}
        if dist_info.is_main:
            _logger.info("resuming %s at epoch %d, step %d", out, pos.epoch, pos.step)

    net: nn.Module = task.train_module(model)   # the model, or the view that returns its auxiliary losses
    if cfg.compile:
        net = torch.compile(net)
    if dist_info.distributed:
        net = DistributedDataParallel(net, device_ids=[dist_info.local_rank] if dist_info.device.type == "cuda" else None)

    r = cfg.recipe
    repeats = task.repeats(dist_info.distributed)
    sampler = ResumableSampler(len(train_set), seed=cfg.seed, rank=dist_info.rank, world_size=dist_info.world_size,
                               repeats=repeats)
    steps = sampler.epoch_length() // per_device // accum
    if steps < 1:
        raise ValueError(f"{len(train_set)} training images make no full step of {per_device} x {accum} on "
                         f"{dist_info.world_size} device(s): lower batch_size")
    scheduler = task.scheduler(optimizer, steps)
    workers = cfg.data.num_workers
    loader_kw = dict(num_workers=workers, pin_memory=dist_info.device.type == "cuda",
                     persistent_workers=False, prefetch_factor=4 if workers > 0 else None)

    tracker = Tracker(cfg.experiment, enabled=dist_info.is_main)
    tags = {"model": cfg.model, "task": cfg.task, **model_family(cfg.model), "dataset": cfg.data.name,
            "img_size": str(cfg.img_size), "recipe": r.name, **dict(cfg.tags)}
    run_id = tracker.start(run_name=cfg.run_name or out.name, tags=tags, run_id=run_id)
    try:                                        # from here on a failure ends the run FAILED, not RUNNING
        commit = git_commit()
        params = {
            **cfg.as_dict(),
            "derived": {"world_size": dist_info.world_size, "per_device_batch": per_device, "accum_steps": accum,
                        "drop_path_rate": task.drop_path_rate, "num_classes": num_classes,
                        "peak_lr": getattr(r, "peak_lr", r.lr), "clip_grad": task.clip(),
                        "params": count_params(model), "repeats": repeats, "train_images": len(train_set),
                        "val_images": len(val_set)},
        }
        tracker.log_params(params)
        tracker.set_tags({"mlflow.source.git.commit": commit, "mlflow.source.name": "editrepro train",
                          "mlflow.source.type": "LOCAL", "config_hash": cfg.config_hash(),
                          "host": socket.gethostname(), "devices": _devices(dist_info)})
        for split, data, context in (("train", train_set, "training"), ("val", val_set, "evaluation")):
            tracker.log_dataset(f"{cfg.data.name}/{split}", str(cfg.data.root), dataset_digest(data), context, len(data))
        if dist_info.is_main:
            atomic_write_text(out / "config.yaml", yaml.safe_dump(cfg.as_dict(), sort_keys=False))
            atomic_write_text(out / "environment.txt", environment_report())

        bad = BadSampleLog.for_dataset(train_set, cfg.max_bad_samples, f"training set of {cfg.data.name}",
                                       seen=bad_state.get("seen"), total=bad_state.get("total", 0))
        val_bad = BadSampleLog.for_dataset(val_set, cfg.max_bad_samples, f"validation set of {cfg.data.name}")
        train_data = SeededDataset(TolerantDataset(train_set))
        val_data = TolerantDataset(val_set)
        ctx = StepContext(optimizer=optimizer, criterion=criterion, device=dist_info.device, accum_steps=accum,
                          mixup=mixup, amp_dtype=amp_dtype, scaler=scaler, clip_grad=task.clip(), ema=ema,
                          aux_weights=task.aux_weights(model), bad_samples=bad, seed=cfg.seed, rank=dist_info.rank,
                          world_size=dist_info.world_size, show_progress=dist_info.is_main, loss_fn=task.loss_fn)
        interval_s = cfg.checkpoint_interval_s(dist_info.device.type)
        last_checkpoint = [time.monotonic()]
    except BaseException as e:
        tracker.fail(e)
        raise
    stop = _StopFlag(dist_info.rank)
    stop.install()

    def checkpoint(epoch: int, step: int) -> None:
        if dist_info.is_main:
            if lock is not None:
                lock.check()                    # still this process's folder (not taken over while it hung)
            save_checkpoint(ckpt_path, {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict() if scaler is not None else None,
                "ema": ema.state_dict() if ema is not None else None,
                "epoch": epoch, "step": step, "history": history, "run_id": run_id,
                "bad_samples": {"seen": dict(bad.seen), "total": bad.total},
                "config": cfg.as_dict(), "config_hash": cfg.config_hash(), "rng": rng_state(), "classes": class_list,
                RECORD_KEY: record,
            })
        barrier()
        last_checkpoint[0] = time.monotonic()

    def checkpoint_due() -> bool:
        return interval_s is not None and time.monotonic() - last_checkpoint[0] >= interval_s

    def _epochs() -> Dict[str, Any]:
        val_metrics: Dict[str, float] = history[-1]["val"] if history else {}
        for epoch in range(pos.epoch, r.epochs):
            start_step = pos.step if epoch == pos.epoch else 0
            # timm ignores the call a schedule is not counted in: epochs for cosine, global steps for poly
            # (the position is the global step, so a resumed run takes up the same schedule). Which epoch's lr
            # this epoch trains at is the recipe's sched_step (schedule_epoch): DeiT's and PVT's main.py step
            # after the epoch, so epoch e >= 1 trains at lr(e - 1); set here from the epoch alone, a run resumed
            # mid-epoch takes up the same lr
            scheduler.step(schedule_epoch(r, epoch))
            scheduler.step_update(epoch * steps + start_step)
            sampler.set_epoch(epoch, start=start_step * per_device * accum)
            loader = DataLoader(train_data, batch_sampler=BatchSampler(sampler, per_device, drop_last=True),
                                collate_fn=task.collate, **loader_kw)
            t0 = time.perf_counter()

            def on_step(step: int, m: Dict[str, float], epoch=epoch, steps=steps) -> None:
                scheduler.step_update(epoch * steps + step + 1)
                if step % cfg.log_every == 0 or step == steps - 1:
                    tracker.log_metrics({f"train/{k}": v for k, v in m.items()}, step=epoch * steps + step)

            try:
                result = train_one_epoch(net, loader, ctx, epoch, steps, start_step, on_step=on_step, should_stop=stop,
                                         checkpoint_due=checkpoint_due,
                                         on_checkpoint=lambda step, epoch=epoch: checkpoint(epoch, step))
            except NonFiniteLossError as e:
                kept = (f"The last good checkpoint is kept at {ckpt_path}" if ckpt_path.is_file() else
                        f"No checkpoint was written yet (none in {out})")
                raise NonFiniteLossError(f"{e}: stopping {cfg.model} on {cfg.data.name}. {kept}; try a lower lr "
                                         "or check the data.") from None
            if result["next_step"] < steps:
                checkpoint(epoch, result["next_step"])
                tracker.end(status="KILLED")
                # every rank leaves once rank 0 has closed its run: on several nodes a torchrun agent whose workers
                # exited first ends its node's part, and the c10d store it may host, with them (docs/slurm.md)
                barrier()
                raise Preempted(f"stopped by {signal.Signals(stop.signal).name} at epoch {epoch}, step "
                                f"{result['next_step']} of {steps}; {ckpt_path} written, run again to resume")
            if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == r.epochs:
                val_metrics = task.evaluate(ema.module if ema is not None else net, val_data, dist_info, amp_dtype,
                                            per_device, workers, show_progress=dist_info.is_main, bad_samples=val_bad)
            terms = {f"train_{k}": v for k, v in result["terms"].items()}
            entry = {"epoch": epoch, "lr": optimizer.param_groups[0]["lr"], "train_loss": result["loss"], **terms,
                     "images_per_sec": result["images_per_sec"], "epoch_time_s": time.perf_counter() - t0,
                     "peak_mem_gb": _peak_memory_gb(dist_info.device), "bad_samples": result["bad_samples"],
                     "val": dict(val_metrics)}
            history.append(entry)
            tracker.log_metrics({"epoch/train_loss": result["loss"], **{f"epoch/{k}": v for k, v in terms.items()},
                                 "epoch/lr": entry["lr"], "epoch/images_per_sec": result["images_per_sec"],
                                 "epoch/peak_mem_gb": entry["peak_mem_gb"], "epoch/bad_samples": result["bad_samples"],
                                 **{f"val/{k}": v for k, v in val_metrics.items() if k != "n"}}, step=epoch, flush=True)
            if dist_info.is_main:
                with open(out / "log.jsonl", "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")
                _logger.info("epoch %d: loss %.4f, val %s %.2f, %.0f img/s", epoch, result["loss"], task.headline,
                             val_metrics.get(task.headline, float("nan")), result["images_per_sec"])
            checkpoint(epoch + 1, 0)

        metrics = {
            "model": cfg.model, "task": cfg.task, "dataset": cfg.data.name, "img_size": cfg.img_size,
            "recipe": r.name, "epochs": r.epochs, **task.summary(val_metrics),
            f"best_{task.headline}": max((h["val"].get(task.headline, float("-inf")) for h in history), default=None),
            "train_loss": history[-1]["train_loss"] if history else None,
            "images_per_sec": sum(h["images_per_sec"] for h in history) / max(len(history), 1),
            "peak_mem_gb": max((h["peak_mem_gb"] for h in history), default=0.0),
            "bad_samples": bad.total, "bad_files": sorted(bad.seen),
            "params": count_params(model), "run_id": run_id, "git_commit": commit, "config_hash": cfg.config_hash(),
            "devices": dist_info.world_size, "device_type": dist_info.device.type, "experiment": cfg.experiment,
            "tags": tags,
        }
        if dist_info.is_main:
            if lock is not None:
                lock.check()
            save_checkpoint(out / FINAL_WEIGHTS, {"model": model.state_dict(),
                                                  "model_ema": ema.module.state_dict() if ema is not None else None,
                                                  "config": cfg.as_dict(), "num_classes": num_classes,
                                                  RECORD_KEY: record,
                                                  "classes": class_list})
            atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
            for name in ("config.yaml", "environment.txt", "metrics.json", "log.jsonl"):
                tracker.log_artifact(out / name)
        return metrics

    try:
        metrics = _epochs()
    except Preempted:
        raise                                   # the run is KILLED already: a resumable stop
    except BaseException as e:
        tracker.fail(e)                         # FAILED (KILLED for an interrupt), the error as a tag
        raise
    finally:
        stop.restore()
    tracker.end()
    barrier()
    return metrics


def _grad_checkpointing(model: nn.Module) -> None:
    """Turn on timm's activation checkpointing (a segmenter's: its backbone's)."""
    target = model if hasattr(model, "set_grad_checkpointing") else getattr(model, "backbone", None)
    if target is not None and not hasattr(target, "set_grad_checkpointing"):
        target = getattr(target, "body", None)      # a detector's backbone: FPN over the pyramid
    if target is None or not hasattr(target, "set_grad_checkpointing"):
        raise ValueError(f"{type(model).__name__} has no set_grad_checkpointing: --grad-checkpointing is for timm models")
    target.set_grad_checkpointing(True)


def _devices(d: DistInfo) -> str:
    if d.device.type == "cuda":
        return f"{d.world_size} x {torch.cuda.get_device_name(d.device)}"
    return f"{d.world_size} x cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
