"""The loop of an exported train.py: the runtime's functions driven by the SETTINGS dict (runtime).

Studio's window trains with `studio.training.trainer.Trainer` (pause, resume, checkpoints,
live reports); train.py runs this `main`, which calls the same data, step, evaluation, schedule
and Monitor functions in the same order with the same seeds, so on CPU the per-epoch metrics
match `studio train`. Under torchrun it trains with DistributedDataParallel.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler, Subset, TensorDataset

from studio.training.runtime.board import EventLog
from studio.training.runtime.data import load_data
from studio.training.runtime.loop import (
    EpochBatches,
    choose_device,
    evaluate,
    make_optimizer,
    tensor_batches,
    train_step,
    write_metrics,
)
from studio.training.runtime.metrics import with_perplexity
from studio.training.runtime.schedules import Monitor, learning_rate, set_learning_rate
from studio.training.runtime.threads import choose_threads


def parse_args(settings, description, text=False):
    parser = argparse.ArgumentParser(description=description)
    if text:
        parser.add_argument("--generate", metavar="PROMPT", help="write text from PROMPT with the weights in --out")
        parser.add_argument("--tokens", type=int, default=300, help="tokens --generate writes (default: %(default)s)")
        parser.add_argument("--temperature", type=float, default=0.8, help="0: the likeliest token (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=settings["epochs"], help="default: %(default)s")
    parser.add_argument("--batch-size", type=int, default=settings["batch_size"], help="per process (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=settings["seed"], help="default: %(default)s")
    parser.add_argument("--device", default=settings["device"], help="auto, cpu, cuda, cuda:N or mps (default: %(default)s)")
    parser.add_argument("--out", default=settings["out"], help="folder for metrics.csv and weights.pt")
    parser.add_argument("--tensorboard", metavar="DIR", default=None,
                        help="write TensorBoard event files into DIR (needs the tensorboard package)")
    return parser.parse_args()


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
    if isinstance(data, TensorDataset):
        tensors = [t.to(device) for t in data.tensors]

        def epoch_batches(epoch):
            if distributed:
                sampler.set_epoch(epoch)  # a new shuffle each epoch, the same in every process
                return tensor_batches(tensors, s["batch_size"], torch.tensor(list(sampler)))
            order = torch.randperm(len(data), generator=generator) if s["shuffle"] else None
            return tensor_batches(tensors, s["batch_size"], order)

        return epoch_batches, math.ceil((len(sampler) if distributed else len(data)) / s["batch_size"])
    batches = BatchSampler(sampler, s["batch_size"], drop_last=False) if distributed else EpochBatches(
        len(data), s["batch_size"], s["shuffle"], generator)
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
        return lambda: tensor_batches(tensors, s["batch_size"])
    loader = DataLoader(Subset(data, range(rank, len(data), world_size)), batch_size=s["batch_size"],
                        num_workers=s["workers"], pin_memory=device.type == "cuda",
                        persistent_workers=s["workers"] > 0, generator=torch.Generator().manual_seed(s["seed"] + 1))
    return lambda: loader


def build(s, model_class, device, distributed):
    """(the model as it trains, the bare network, its trainable parameters, optimizer, loss)."""
    torch.manual_seed(s["seed"])  # the same seed gives the same initial weights
    net = model_class().to(device)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = s["optimizer"]
    optimizer = make_optimizer(params, opt["name"], opt["arguments"], opt["implementations"])
    name = s["loss"]["name"]
    loss_fn = (getattr(nn, name, None) or globals()[name])(**s["loss"]["arguments"])  # torch's, or defined above
    model = net
    if distributed:  # backward() averages the gradients over the processes
        model = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    return model, net, params, optimizer, loss_fn


def mixed_precision(s, device):
    """(autocast context, gradient scaler or None): bf16 or fp16 on CUDA only, as in Studio."""
    if s["precision"] == "none" or device.type != "cuda":
        return contextlib.nullcontext(), None
    dtype = torch.bfloat16 if s["precision"] == "bf16" else torch.float16
    return torch.autocast("cuda", dtype=dtype), torch.amp.GradScaler("cuda") if s["precision"] == "fp16" else None


def epoch_metrics(epoch, losses, metric_sums, sizes, s, device):
    """The epoch's training means over the samples of all processes (the last batch may be smaller)."""
    loss_sum = sum(value * size for value, size in zip(torch.stack(losses).tolist(), sizes, strict=True))
    loss_sum, metric_sum, count = global_sums(loss_sum, sum(torch.stack(metric_sums).tolist()), sum(sizes), device=device)
    name = s["metric_name"]
    return {"epoch": epoch, "train_loss": loss_sum / max(1, count), f"train_{name}": metric_sum / max(1, count)}, count


def save_weights(net, out):
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    if all(v.isfinite().all() for v in state.values() if v.is_floating_point()):
        torch.save(state, out / "weights.pt")
        print(f"Saved weights in {out / 'weights.pt'}, metrics in {out / 'metrics.csv'}")


def main(settings, model_class, metric, rate, read, read_val=None, generate=None):
    """Train `model_class` as `settings` say; `metric`, `rate` and `read` are the runtime
    functions the project's loss, schedule and dataset name; `generate` the one --generate runs."""
    args = parse_args(settings, f"Train {model_class.__name__} as its Studio project does.", generate is not None)
    if generate is not None and args.generate is not None:
        sys.exit(generate(model_class, settings, args))
    s = {**settings, "epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed}
    distributed, rank, world_size, device = start_processes(args.device)
    _, why = choose_threads(device, processes=world_size)
    if rank == 0:
        print(f"Training on {device} with {why}.")
    if distributed and rank != 0:
        dist.barrier()  # the first process reads (and downloads) the data first
    train_data, val_data, _ = load_data(s, read, read_val)
    if distributed and rank == 0:
        dist.barrier()
    model, net, params, optimizer, loss_fn = build(s, model_class, device, distributed)
    autocast, scaler = mixed_precision(s, device)
    float_targets = s["target"] == "multilabel"
    batches, steps_per_epoch = train_batches(train_data, s, device, distributed, torch.Generator().manual_seed(s["seed"]))
    validation = val_batches(val_data, s, device, rank, world_size) if val_data is not None else None
    base, scale, step, epochs = s["optimizer"]["arguments"]["lr"], 1.0, 0, s["epochs"]
    set_learning_rate(optimizer, learning_rate(0, base, s["schedule"], rate, steps_per_epoch, epochs))
    # training's randomness (dropout, augmentation) does not depend on what building the model drew
    torch.manual_seed(s["seed"] + rank)
    best = Monitor(s["mode"], (s["early_stopping"] or {}).get("min_delta", 0.0))
    plateau, stop = Monitor(s["mode"]), s["early_stopping"]
    out, history, failed = Path(args.out), [], False
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    log = EventLog(args.tensorboard if rank == 0 else None)  # only the first process writes
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        losses, metric_sums, sizes = [], [], []
        for x, y in batches(epoch):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            y = y.float() if float_targets else y
            loss, output = train_step(model, x, y, loss_fn, optimizer, params, s["grad_clip"], scaler, autocast)
            step += 1
            set_learning_rate(optimizer, learning_rate(step, base, s["schedule"], rate, steps_per_epoch, epochs, scale))
            losses.append(loss.detach())  # kept on the device: no wait for the GPU per step
            metric_sums.append(metric(output.detach(), y).sum())
            sizes.append(y.shape[0])
        seconds = time.perf_counter() - start
        metrics, count = epoch_metrics(epoch, losses, metric_sums, sizes, s, device)
        if not math.isfinite(metrics["train_loss"]):
            if rank == 0:
                print(f"The loss became {metrics['train_loss']} in epoch {epoch}. Try a lower learning rate, "
                      "gradient clipping, or check the data for NaN values.", file=sys.stderr)
            failed = True
            break
        if validation is not None:
            sums = evaluate(model, validation(), loss_fn, metric, device, autocast, float_targets)
            vl, vm, vc = global_sums(*torch.stack(sums[:2]).tolist(), sums[2], device=device)
            metrics["val_loss"], metrics[f"val_{s['metric_name']}"] = vl / max(1, vc), vm / max(1, vc)
        if s.get("perplexity"):
            metrics = with_perplexity(metrics)
        metrics.update(lr=optimizer.param_groups[0]["lr"], samples_per_s=count / seconds if seconds > 0 else 0.0,
                       seconds=time.perf_counter() - start)
        history.append(metrics)
        log.epoch(losses, step - len(losses) + 1, metrics)
        value = metrics[s["monitor"]]
        if s["plateau"] and not plateau.update(value) and plateau.bad_epochs > s["schedule"]["patience"]:
            scale, plateau.bad_epochs = scale * s["schedule"]["factor"], 0  # reduce on plateau
            set_learning_rate(optimizer, learning_rate(step, base, s["schedule"], rate, steps_per_epoch, epochs, scale))
        best.update(value, epoch)
        if rank == 0:
            print(f"epoch {epoch}/{epochs}  " + "  ".join(f"{k} {v:.4g}" for k, v in metrics.items() if k != "epoch"),
                  flush=True)
            write_metrics(out / "metrics.csv", history)
        if stop and best.bad_epochs >= stop["patience"] and epoch < epochs:
            if rank == 0:
                print(f"Stopped early: {s['monitor']} did not improve for {stop['patience']} epochs.")
            break
    log.close()
    if rank == 0 and not failed:
        save_weights(net, out)
    if distributed:
        dist.barrier()  # no process leaves while another still talks to it
        dist.destroy_process_group()
    sys.exit(1 if failed else 0)
