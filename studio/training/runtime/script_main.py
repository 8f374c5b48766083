"""The loop of an exported train.py: the runtime's functions driven by the SETTINGS dict (runtime).

Studio's window trains with `studio.training.trainer.Trainer` (pause, resume, checkpoints,
live reports); train.py runs this `main`, which calls the same data, step, evaluation, schedule
and Monitor functions in the same order with the same seeds, so on CPU the per-epoch metrics
match `studio train`. Under torchrun it trains with DistributedDataParallel.
"""

from __future__ import annotations

import argparse
import contextlib
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
from studio.training.runtime.fit import Progress, fit
from studio.training.runtime.loop import (
    EpochBatches,
    choose_device,
    epoch_order,
    make_optimizer,
    tensor_batches,
    write_metrics,
)
from studio.training.runtime.targets import standardized_targets
from studio.training.runtime.threads import choose_threads


def parse_args(settings, description):
    parser = argparse.ArgumentParser(description=description)
    if settings["text"]:
        parser.add_argument("--generate", metavar="PROMPT", help="write text from PROMPT")
        parser.add_argument("--tokens", type=int, default=300, help="tokens to write")
        parser.add_argument("--temperature", type=float, default=0.8, help="0: the likeliest")
    parser.add_argument("--epochs", type=int, default=settings["epochs"])
    parser.add_argument("--batch-size", type=int, default=settings["batch_size"], help="per rank")
    parser.add_argument("--seed", type=int, default=settings["seed"])
    parser.add_argument("--device", default=settings["device"], help="auto, cpu, cuda:N or mps")
    if settings["files"]:
        here = str(Path(sys.argv[0]).resolve().parent)
        parser.add_argument("--data", default=here, help="the folder of the data files")
    parser.add_argument("--out", default=settings["out"], help="for metrics, weights, checkpoints")
    parser.add_argument("--resume", metavar="CHECKPOINT", help="a checkpoint.pt to go on from")
    parser.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard logs into DIR")
    return parser.parse_args()


def data_files(settings, folder):
    """`settings` with each relative data path read from `folder` (--data); exits with a message
    naming the file the project expects when it is not there."""
    settings = dict(settings)
    for key in ("data", "val_data"):
        spec = settings.get(key)
        if spec and "path" in spec:
            path = Path(folder) / spec["path"]  # an absolute path stays as it is
            if not path.exists():
                sys.exit(f"The project's data is not at {path}. Put it there, or pass --data with the folder "
                         f"that holds {spec['path']}.")
            settings[key] = {**spec, "path": str(path)}
    return settings


def start_processes(device_name):
    """(distributed, rank, world size, device): under torchrun one process per GPU (nccl) or
    several on the CPU (gloo), each on the GPU of its local rank; one process otherwise."""
    device = choose_device(device_name)
    if "LOCAL_RANK" not in os.environ:
        return False, 0, 1, device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return True, dist.get_rank(), dist.get_world_size(), device


def global_sums(*values, device):
    """The sums of `values` over all processes under torchrun; the values themselves otherwise."""
    if not dist.is_initialized():
        return values
    totals = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(totals)
    return totals.tolist()


def train_batches(data, s, device, distributed, generator):
    """A function epoch -> batches: slices of tensors on the device, or a DataLoader for lazy
    data; under torchrun each process takes its share (a DistributedSampler)."""
    sampler = DistributedSampler(data, shuffle=s["shuffle"], seed=s["seed"]) if distributed else None
    shuffle = s["shuffle"]
    if s["balanced"] and not distributed:  # each epoch draws the classes about equally often
        shuffle = sample_weights(data)
    if isinstance(data, TensorDataset):
        tensors = [t.to(device) for t in data.tensors]
        dtype = getattr(data, "batch_dtype", None)  # compact tokens, widened a batch at a time

        def epoch_batches(epoch):
            if distributed:
                sampler.set_epoch(epoch)  # a new shuffle each epoch, the same in every process
                return tensor_batches(tensors, s["batch_size"], torch.tensor(list(sampler)), dtype)
            order = epoch_order(len(data), shuffle, generator)
            return tensor_batches(tensors, s["batch_size"], order, dtype)

        return epoch_batches, math.ceil((len(sampler) if distributed else len(data)) / s["batch_size"])
    batches = BatchSampler(sampler, s["batch_size"], drop_last=False) if distributed else EpochBatches(
        len(data), s["batch_size"], shuffle, generator)
    loader = DataLoader(data, batch_sampler=batches, num_workers=s["workers"], pin_memory=device.type == "cuda",
                        persistent_workers=s["workers"] > 0, generator=torch.Generator().manual_seed(s["seed"] + 1))

    def loader_batches(epoch):
        if distributed:
            sampler.set_epoch(epoch)
        return loader

    return loader_batches, len(loader)


def val_batches(data, s, device, rank, world_size):
    """Each process validates its share of the validation set (every world_size-th sample)."""
    if isinstance(data, TensorDataset):
        tensors = [t[rank::world_size].to(device) for t in data.tensors]
        return lambda: tensor_batches(tensors, s["batch_size"], dtype=getattr(data, "batch_dtype", None))
    loader = DataLoader(Subset(data, range(rank, len(data), world_size)), batch_size=s["batch_size"],
                        num_workers=s["workers"], pin_memory=device.type == "cuda",
                        persistent_workers=s["workers"] > 0, generator=torch.Generator().manual_seed(s["seed"] + 1))
    return lambda: loader


def make_loss(loss):
    """The loss module: torch's (nn.CrossEntropyLoss...) or one defined in this file."""
    return (getattr(nn, loss["name"], None) or globals()[loss["name"]])(**loss["arguments"])


def mixed_precision(s, device):
    """(autocast context, gradient scaler or None): bf16 or fp16 on CUDA only, as in Studio."""
    if s["precision"] == "none" or device.type != "cuda":
        return contextlib.nullcontext(), None
    dtype = torch.bfloat16 if s["precision"] == "bf16" else torch.float16
    return torch.autocast("cuda", dtype=dtype), torch.amp.GradScaler("cuda") if s["precision"] == "fp16" else None


class ScriptHooks:
    """train.py's side of the loop (`fit.Hooks`): keeps each step's loss and metric on the
    device, sums the epoch over all processes, prints, writes metrics.csv, TensorBoard scalars and
    checkpoints."""

    def __init__(self, metric, device, out, rank, log, run):
        self.metric, self.device, self.out, self.rank = metric, device, out, rank
        self.log, self.run = log, run
        self.losses, self.metric_sums, self.sizes = [], [], []

    def on_epoch_start(self, epoch):
        return False

    def on_step(self, loss, logits, y):
        self.losses.append(loss.detach())  # kept on the device: no wait for the GPU per step
        self.metric_sums.append(self.metric(logits.detach(), y).sum())
        self.sizes.append(y.shape[0])
        return False

    def epoch_sums(self, epoch):
        losses = torch.stack(self.losses).tolist()
        loss_sum = sum(value * size for value, size in zip(losses, self.sizes, strict=True))
        sums = self.reduce(loss_sum, sum(torch.stack(self.metric_sums).tolist()), sum(self.sizes))
        self.epoch_losses, self.losses, self.metric_sums, self.sizes = losses, [], [], []
        return sums

    def reduce(self, *values):
        return global_sums(*values, device=self.device)

    def on_epoch_end(self, epoch, metrics, improved):
        net, _, progress, _ = self.run
        self.log.epoch(self.epoch_losses, progress.step - len(self.epoch_losses) + 1, metrics)
        if self.rank != 0:
            return
        shown = "  ".join(f"{k} {v:.4g}" for k, v in metrics.items() if k != "epoch")
        print(f"epoch {epoch}  {shown}", flush=True)
        write_metrics(self.out / "metrics.csv", progress.history)
        save_checkpoint(self.out / "checkpoint.pt", *self.run)
        if improved:
            save_weights(net, self.out / "best.pt")


def save_weights(net, path, info=None):
    """The weights, when all are numbers, at `path` (written whole, then renamed into place); with the
    data's `info`, path.json holds its "class_names", "target_scale", text "codec" (tokenizer and
    vocabulary) and "image" transform (size, channels, normalize): what inputs and outputs mean."""
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    if all(v.isfinite().all() for v in state.values() if v.is_floating_point()):
        torch.save(state, path.with_name(path.name + ".tmp"))
        os.replace(path.with_name(path.name + ".tmp"), path)
        if info is not None:
            keys = ("class_names", "target_scale", "codec", "image")
            path.with_suffix(".json").write_text(json.dumps({k: info.get(k) for k in keys}))
        return True
    return False


def save_checkpoint(path, net, optimizer, progress, generator):
    """What --resume needs: weights, optimizer, where the run stands and the random states."""
    state = (net.state_dict(), optimizer.state_dict(), progress.state_dict())
    checkpoint = (*state, torch.get_rng_state(), generator.get_state())
    torch.save(checkpoint, path.with_name(path.name + ".tmp"))
    os.replace(path.with_name(path.name + ".tmp"), path)


def resume(path, net, optimizer, progress, generator):
    """Continue from a checkpoint written by `save_checkpoint`."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    weights, optimizer_state, progress_state, rng, order = checkpoint
    net.load_state_dict(weights)
    optimizer.load_state_dict(optimizer_state)
    progress.load_state_dict(progress_state)
    torch.set_rng_state(rng)
    generator.set_state(order)
    print(f"Resuming after epoch {progress.epoch} from {path}")


def main(settings, model_class, metric, rate, read, read_val=None, generate=None):
    """Train `model_class` as `settings` say; `metric`, `rate` and `read` are the runtime
    functions the project's loss, schedule and dataset name; `generate` the one --generate runs."""
    args = parse_args(settings, f"Train {model_class.__name__} as its Studio project does.")
    if settings["text"] and args.generate is not None:
        sys.exit(generate(model_class, settings, args))
    s = {**settings, "epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed}
    if settings["files"]:
        s = data_files(s, args.data)  # the data paths are relative to --data
    distributed, rank, world_size, device = start_processes(args.device)  # DDP: one process per GPU
    _, why = choose_threads(device, processes=world_size)
    if rank == 0:
        print(f"Training on {device} with {why}.")
    if distributed and rank != 0:
        dist.barrier()  # DDP: the first process reads (and downloads) the data first
    train_data, val_data, info = load_data(s, read, read_val)
    if distributed and rank == 0:
        dist.barrier()
    torch.manual_seed(s["seed"])  # the same seed gives the same initial weights
    if not settings["downloads"]:
        model = model_class()  # 1. the model, with fresh weights
    else:
        try:
            model = model_class()  # 1. the model, with fresh (and pretrained) weights
        except OSError as e:  # pretrained weights offline (urllib's URLError is an OSError): one line
            where = os.path.join(torch.hub.get_dir(), "checkpoints")
            sys.exit(f"error: the model's pretrained weights could not be loaded ({getattr(e, 'reason', None) or e}); "
                     f"put the weights file in {where} (studio weights PROJECT fetches it) or run with network access")
    optimizer = make_optimizer(model.parameters(), **s["optimizer"])  # 2. the optimizer
    loss_fn = make_loss(s["loss"])  # 2. and the loss function
    if s["class_weights"]:
        weigh_classes(loss_fn, train_data, None, device)  # the classes the training set holds
    net = model.to(device)
    if distributed:  # DDP: backward() averages the gradients over the processes
        model = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    if s["standardize_target"]:  # regression: learn (y - mean) / std, report in the data's units
        model, loss_fn = standardized_targets(model, loss_fn, info["target_scale"], device)
    autocast, scaler = mixed_precision(s, device)
    generator = torch.Generator().manual_seed(s["seed"])
    batches, steps_per_epoch = train_batches(train_data, s, device, distributed, generator)
    validation = None if val_data is None else val_batches(val_data, s, device, rank, world_size)
    # training's randomness (dropout, augmentation) does not depend on what building the model drew
    torch.manual_seed(s["seed"] + rank)
    progress, out = Progress(s), Path(args.out)
    run = (net, optimizer, progress, generator)
    if args.resume:
        resume(args.resume, *run)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    log = EventLog(args.tensorboard if rank == 0 else None)  # only the first process writes
    hooks = ScriptHooks(metric, device, out, rank, log, run)
    status = fit(model, optimizer, loss_fn, batches, s, hooks, progress, metric, rate, steps_per_epoch,
                 validation, device, autocast, scaler)
    log.close()
    if rank == 0 and status == "nan":
        why = f"The loss stopped being a number in epoch {progress.epoch + 1}."
        hint = "Try a lower learning rate, gradient clipping, or check the data for NaN values."
        print(why, hint, file=sys.stderr)
    if status == "early_stopped" and rank == 0:
        print(f"Stopped early: {s['monitor']} did not improve for {s['early_stopping']['patience']} epochs.")
    if rank == 0 and status != "nan" and save_weights(net, out / "weights.pt", info):
        print(f"Saved weights in {out / 'weights.pt'}, metrics in {out / 'metrics.csv'}")
    if distributed:
        dist.barrier()  # no process leaves while another still talks to it
        dist.destroy_process_group()
    sys.exit(1 if status == "nan" else 0)
