"""The metric of each sample, by the loss's target (`LossKind.metric_function`) (runtime)."""

from __future__ import annotations

import math


def class_hits(output, target):
    """1.0 where the highest score is the target class, per sample; float targets (class
    probabilities) count their most likely class."""
    target = target.argmax(1) if target.dtype.is_floating_point else target
    return (output.argmax(1) == target).reshape(output.shape[0], -1).float().mean(1)


def label_hits(output, target):
    """The share of yes/no labels a multi-label output gets right (logit > 0 means yes), per sample."""
    hit = (output > 0) == (target > 0.5)
    return hit.reshape(output.shape[0], -1).float().mean(1)


def absolute_errors(output, target):
    """The mean absolute error of each sample (regression)."""
    return (output.float() - target.float()).abs().reshape(output.shape[0], -1).mean(1)


def token_hits(output, target):
    """The share of positions whose highest score is the next token, per sample (N x T x V
    scores, N x T token ids)."""
    return (output.argmax(-1) == target).reshape(output.shape[0], -1).float().mean(1)


def with_perplexity(metrics):
    """train_/val_perplexity added to `metrics` (in place) for each loss: exp of the mean token
    loss (capped: a loss of 710 would overflow)."""
    for key in [k for k in metrics if k.endswith("_loss")]:  # the perplexity: exp of the loss
        metrics[key.replace("loss", "perplexity")] = math.exp(min(metrics[key], 700.0))
