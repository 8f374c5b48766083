"""The loop of an exported train.py: the runtime's functions driven by the SETTINGS dict (runtime).

Studio's window trains with `studio.training.trainer.Trainer` (pause, resume, checkpoints,
live reports); train.py runs this `main`, which calls the same data, step, evaluation, schedule
and Monitor functions in the same order with the same seeds, so on CPU the per-epoch metrics
match `studio train`. Under torchrun it trains with DistributedDataParallel.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler, Subset, TensorDataset

from studio.training.runtime.balance import sample_weights, weigh_classes
from studio.training.runtime.board import EventLog
from studio.training.runtime.data import load_data
from studio.training.runtime.fit import fit, new_progress
from studio.training.runtime.loop import (
    EpochBatches,
    choose_device,
    epoch_order,
    make_optimizer,
    tensor_batches,
    write_metrics,
)
from studio.training.runtime.targets import standardized_targets
from studio.training.runtime.threads import idle_cores


def data_file(spec, folder):
    """`spec` with its relative path read from `folder` (--data); exits with a message naming
    the file the project expects when it is not there."""
    path = Path(folder) / spec["path"]  # in --data (an absolute path stays as it is)
    if not path.exists():
        sys.exit(f"The project's data is not at {path}; put it there or pass --data.")
    return {**spec, "path": str(path)}


def train_batches(data, s, device, rank, world_size, generator):
    """(a function epoch -> batches, steps per epoch): slices of tensors on the device, or a
    DataLoader's batches for lazy data. Under torchrun every process draws the same order (the
    same seed) and takes every world_size-th sample of it, cut to a multiple of world_size so
    that all take as many steps."""
    shuffle = s["shuffle"]
    if s["balanced"]:  # each epoch draws the classes about equally often
        shuffle = sample_weights(data)
    n = len(data) // world_size * world_size  # DDP: as many samples in each process
    if isinstance(data, TensorDataset):
        tensors = [t.to(device) for t in data.tensors]
        dtype = getattr(data, "batch_dtype", None)  # compact tokens, widened a batch at a time

        def epoch_batches(epoch):
            order = epoch_order(len(data), shuffle, generator)
            order = order[rank:n:world_size]  # DDP: every world_size-th sample, as many in each
            return tensor_batches(tensors, s["batch_size"], order, dtype)

        return epoch_batches, math.ceil(n / world_size / s["batch_size"])
    sampler = DistributedSampler(data, shuffle=s["shuffle"], seed=s["seed"]) if world_size > 1 else None
    batches = BatchSampler(sampler, s["batch_size"], drop_last=False) if sampler is not None else EpochBatches(
        len(data), s["batch_size"], shuffle, generator)
    loader = DataLoader(data, batch_sampler=batches, num_workers=s["workers"], pin_memory=device.type == "cuda",
                        persistent_workers=s["workers"] > 0, generator=torch.Generator().manual_seed(s["seed"] + 1))

    def loader_batches(epoch):
        if sampler is not None:
            sampler.set_epoch(epoch)  # a new shuffle each epoch, the same in every process
        return on_device(loader, device)

    return loader_batches, len(loader)


def val_batches(data, s, device, rank, world_size):
    """Each process validates its share of the validation set (every world_size-th sample)."""
    if isinstance(data, TensorDataset):
        val_tensors = [t[rank::world_size].to(device) for t in data.tensors]  # DDP: a share each
        dtype = getattr(data, "batch_dtype", None)  # compact tokens, widened a batch at a time
        return functools.partial(tensor_batches, val_tensors, s["batch_size"], None, dtype)
    loader = DataLoader(Subset(data, range(rank, len(data), world_size)), batch_size=s["batch_size"],
                        num_workers=s["workers"], pin_memory=device.type == "cuda",
                        persistent_workers=s["workers"] > 0, generator=torch.Generator().manual_seed(s["seed"] + 1))
    return functools.partial(on_device, loader, device)


def on_device(loader, device):
    """A DataLoader's batches moved to `device` (asynchronously from pinned memory)."""
    return ((x.to(device, non_blocking=True), y.to(device, non_blocking=True)) for x, y in loader)


def make_loss(loss):
    """The loss module: torch's (nn.CrossEntropyLoss...) or one defined in this file."""
    return (getattr(nn, loss["name"], None) or globals()[loss["name"]])(**loss["arguments"])


def mixed_precision(s, device):
    """(autocast context, gradient scaler or None): bf16 or fp16 on CUDA only, as in Studio."""
    if device.type != "cuda":
        return contextlib.nullcontext(), None
    dtype = torch.bfloat16 if s["precision"] == "bf16" else torch.float16
    return torch.autocast("cuda", dtype=dtype), torch.amp.GradScaler("cuda") if s["precision"] == "fp16" else None


class ScriptHooks:
    """train.py's side of the loop (`fit.Hooks`): keeps each step's loss and metric on the
    device, sums the epoch over all processes, prints, writes metrics.csv, TensorBoard scalars and
    checkpoints."""

    autocast, scaler, log = contextlib.nullcontext(), None, None  # fp32; no event log

    def __init__(self, metric, device, out, rank, run):
        self.metric, self.device, self.out, self.rank, self.run = metric, device, out, rank, run
        self.steps = []

    def on_epoch_start(self, epoch):
        return False

    def on_step(self, loss, logits, y):  # (loss sum, metric sum, samples) kept on the device
        hits, n = self.metric(logits.detach(), y).sum().float(), len(y)
        self.steps.append(torch.stack([loss.detach().float() * n, hits, hits.new_tensor(n)]))

    def epoch_sums(self, epoch):  # one read-back from the device per epoch, summed in float64
        self.epoch_steps, self.steps = torch.stack(self.steps).cpu().double(), []
        return self.reduce(self.epoch_steps.sum(0))

    def reduce(self, sums):
        """The `sums` (a tensor) over the DistributedDataParallel processes, as numbers."""
        if dist.is_initialized():
            sums = sums.to(self.device)  # nccl sums on the GPU
            dist.all_reduce(sums)  # DDP: the sum over all processes, in each
        return sums.tolist()

    def on_epoch_end(self, epoch, metrics, improved):
        net, optimizer, progress, generator = self.run
        if self.log is not None:
            losses = [loss / size for loss, _, size in self.epoch_steps.tolist()]
            self.log.epoch(losses, progress["step"] - len(losses) + 1, metrics)
        if self.rank != 0:
            return
        shown = "  ".join(f"{k} {v:.4g}" for k, v in metrics.items() if k != "epoch")
        print(f"epoch {epoch}  {shown}", flush=True)
        write_metrics(self.out / "metrics.csv", progress["history"])
        save_checkpoint(self.out, net, optimizer, progress, generator)
        if improved:
            save_weights(net, self.out / "best.pt")


def save_weights(net, path, info=None):
    """The weights, when all are numbers, at `path` (written whole, then renamed into place); with the
    data's `info`, path.json holds its "class_names", "target_scale", text "codec" (tokenizer and
    vocabulary), "image" transform (size, channels, normalize) and a table's "normalization" (the
    mean and std its rows were standardised with): what inputs and outputs mean."""
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    if all(v.isfinite().all() for v in state.values() if v.is_floating_point()):
        torch.save(state, path.with_name(path.name + ".tmp"))
        os.replace(path.with_name(path.name + ".tmp"), path)
        if info is not None:
            keys = ("class_names", "target_scale", "codec", "image", "normalization")
            path.with_suffix(".json").write_text(json.dumps({k: info.get(k) for k in keys}))
        return True
    return False


def save_checkpoint(out, net, optimizer, progress, generator):
    """out/checkpoint.pt: what --resume needs: weights, optimizer, where the run stands and the
    random states (written whole, then renamed into place)."""
    state = [net.state_dict(), optimizer.state_dict(), progress, torch.get_rng_state()]
    torch.save([*state, generator.get_state()], out / "checkpoint.tmp")
    os.replace(out / "checkpoint.tmp", out / "checkpoint.pt")


def resume(path, net, optimizer, progress, generator):
    """Continue from a checkpoint written by `save_checkpoint`."""
    *states, saved, rng, gen = torch.load(path, map_location="cpu", weights_only=True)
    for part, state in zip((net, optimizer), states, strict=True):
        part.load_state_dict(state)
    progress.update(saved)  # where the run stood: epochs, steps, metrics, best value
    torch.set_rng_state(rng)
    generator.set_state(gen)
    print(f"Resuming after epoch {progress['epoch']} from {path}")


def main(settings, model_class, metric, read, rate=None, read_val=None, generate=None):
    """Train `model_class` as `settings` say; `metric`, `read` and `rate` are the runtime
    functions the project's loss, dataset and schedule name (no `rate`: the optimizer's own, as
    it is); `generate` the one --generate runs. Under torchrun each process trains on its share."""
    parser = argparse.ArgumentParser(description=f"Train {model_class.__name__}.")
    if settings["text"]:
        parser.add_argument("--generate", metavar="PROMPT", help="write text from PROMPT")
        parser.add_argument("--tokens", type=int, default=300, help="tokens to write")
        parser.add_argument("--temperature", type=float, default=0.8, help="0: the likeliest")
    parser.add_argument("--epochs", type=int, default=settings["epochs"])
    parser.add_argument("--batch-size", type=int, default=settings["batch_size"], help="per process")
    parser.add_argument("--seed", type=int, default=settings["seed"])
    parser.add_argument("--device", default=settings["device"], help="auto, cpu, cuda:N or mps")
    if settings["files"]:
        here = str(Path(sys.argv[0]).resolve().parent)
        parser.add_argument("--data", default=here, help="the folder of the data files")
    parser.add_argument("--out", default=settings["out"], help="the folder to write into")
    parser.add_argument("--resume", metavar="CHECKPOINT", help="a checkpoint.pt to go on from")
    if settings["tensorboard"]:
        parser.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard logs into DIR")
    args = parser.parse_args()
    if settings["text"] and args.generate is not None:
        sys.exit(generate(model_class, settings, args))
    s = {**settings, "epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed}
    if "data" in settings["files"]:  # the data paths are relative to --data
        s["data"] = data_file(settings["data"], args.data)
    if "val_data" in settings["files"]:
        s["val_data"] = data_file(settings["val_data"], args.data)
    device = choose_device(args.device)
    rank, world_size = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1:  # DDP: torchrun started one process per GPU; join the others (nccl or gloo)
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    torch.set_num_threads(idle_cores(world_size))  # the cores other work leaves idle
    if rank == 0:
        print(f"Training on {device} (CPU threads: {torch.get_num_threads()}).")
    if settings["shared_data"] and world_size > 1 and rank != 0:
        dist.barrier()  # DDP: the first process reads (and downloads) the data first
    train_data, val_data, info = load_data(s, read, read_val)
    if settings["shared_data"] and world_size > 1 and rank == 0:
        dist.barrier()
    torch.manual_seed(args.seed)  # the same seed gives the same initial weights
    if not settings["downloads"]:
        model = model_class()  # 1. the model, with fresh weights
    else:
        try:
            model = model_class()  # 1. the model, with fresh (and pretrained) weights
        except OSError as e:  # pretrained weights offline (urllib's URLError is an OSError): one line
            where = os.path.join(torch.hub.get_dir(), "checkpoints")
            reason = getattr(e, "reason", None) or e
            sys.exit(f"error: the model's pretrained weights could not be loaded ({reason}); "
                     f"put the file in {where} (studio weights PROJECT fetches it) or go online")
    optimizer = make_optimizer(model.parameters(), **settings["optimizer"])  # 2. the optimizer
    loss_fn = make_loss(settings["loss"])  # 2. and the loss function
    if settings["class_weights"]:
        weigh_classes(loss_fn, train_data, None, device)  # the classes the training set holds
    net = model.to(device)
    if world_size > 1:  # DDP: backward() averages the gradients over the processes
        model = nn.parallel.DistributedDataParallel(net)  # on the one device `net` is on
    if settings["standardize_target"]:  # regression: learn (y - mean) / std, report in the data's units
        model, loss_fn = standardized_targets(model, loss_fn, info["target_scale"], device)
    generator = torch.Generator().manual_seed(args.seed)
    batches, steps_per_epoch = train_batches(train_data, s, device, rank, world_size, generator)
    validation = None if val_data is None else val_batches(val_data, s, device, rank, world_size)
    torch.manual_seed(args.seed + rank)  # training's own draws (dropout, augmentation)
    progress = new_progress(s)
    if args.resume:
        resume(args.resume, net, optimizer, progress, generator)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    hooks = ScriptHooks(metric, device, out, rank, (net, optimizer, progress, generator))
    if settings["precision"] != "none":
        hooks.autocast, hooks.scaler = mixed_precision(s, device)
    if settings["tensorboard"] and args.tensorboard and rank == 0:  # only the first process writes
        hooks.log = EventLog(args.tensorboard)
    status = fit(model, optimizer, loss_fn, batches, s, hooks, progress, rate, validation, steps_per_epoch)
    if hooks.log is not None:
        hooks.log.close()
    if status == "early_stopped" and rank == 0:
        monitor, patience = settings["monitor"], settings["early_stopping"]["patience"]
        print(f"Stopped early: {monitor} did not improve for {patience} epochs.")
    if rank == 0 and status != "nan" and save_weights(net, out / "weights.pt", info):
        print(f"Saved weights in {out / 'weights.pt'}, metrics in {out / 'metrics.csv'}")
    if world_size > 1:
        dist.barrier()  # no process leaves while another still talks to it
        dist.destroy_process_group()
    if status == "nan":  # exit status 1; the first process says why
        hint = "try a lower learning rate or gradient clipping, or look for NaN in the data"
        sys.exit(f"The loss is NaN in epoch {progress['epoch'] + 1}: {hint}." if rank == 0 else 1)
