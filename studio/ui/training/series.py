"""The plot buffers, without Qt: what the training curves hold and how their axes move.

`plots.py` draws these; nothing here imports Qt or pyqtgraph, so the numbers (buffer growth,
the peak envelope, the smoothing, the axis ranges) are tested without a window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

EMA_ALPHA = 0.05
EMA_BLOCK = 256  # (1 - EMA_ALPHA) ** 256 is about 2e-6: no underflow, no loss of precision


class Series:
    """x/y float64 buffers with amortised O(1) appends (capacity doubles)."""

    def __init__(self, capacity: int = 1024):
        self.x = np.empty(capacity)
        self.y = np.empty(capacity)
        self.n = 0

    def append(self, xs, ys) -> None:
        xs = np.asarray(xs, dtype=np.float64)
        ys = np.asarray(ys, dtype=np.float64)
        k = len(xs)
        if self.n + k > len(self.x):
            cap = len(self.x)
            while cap < self.n + k:
                cap *= 2
            for name in ("x", "y"):
                grown = np.empty(cap)
                grown[: self.n] = getattr(self, name)[: self.n]
                setattr(self, name, grown)
        self.x[self.n : self.n + k] = xs
        self.y[self.n : self.n + k] = np.where(np.isfinite(ys), ys, np.nan)
        self.n += k

    def clear(self) -> None:
        self.n = 0

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[: self.n], self.y[: self.n]

    def last_x(self) -> float | None:
        return float(self.x[self.n - 1]) if self.n else None

    def value_at(self, x: float) -> tuple[float, float] | None:
        """The point nearest to `x` (x is sorted)."""
        if self.n == 0:
            return None
        xs = self.x[: self.n]
        i = int(np.clip(np.searchsorted(xs, x), 0, self.n - 1))
        if i > 0 and abs(xs[i - 1] - x) < abs(xs[i] - x):
            i -= 1
        return float(xs[i]), float(self.y[i])


class Envelope:
    """A peak envelope of a growing series, kept up to date in O(new points).

    Samples are folded into buckets of `width` consecutive samples, each kept as its min and max;
    when there are more than `max_buckets` buckets, neighbours merge and the width doubles. The
    curve then hands pyqtgraph at most ~2 * max_buckets points however long the run: pyqtgraph's
    own downsampling and bounds scan every point on each `setData`, ~3 ms per frame at a million
    steps.
    """

    def __init__(self, max_buckets: int = 2048):
        self.max_buckets = max_buckets
        self.width = 1
        self.x = np.empty(0)
        self.lo = np.empty(0)
        self.hi = np.empty(0)
        self.done = 0  # samples folded into whole buckets

    def clear(self) -> None:
        self.__init__(self.max_buckets)

    def update(self, series: Series) -> None:
        n_new = (series.n - self.done) // self.width * self.width
        if n_new:
            xs = series.x[self.done : self.done + n_new].reshape(-1, self.width)
            ys = series.y[self.done : self.done + n_new].reshape(-1, self.width)
            self.x = np.concatenate([self.x, xs[:, 0]])
            self.lo = np.concatenate([self.lo, np.fmin.reduce(ys, axis=1)])
            self.hi = np.concatenate([self.hi, np.fmax.reduce(ys, axis=1)])
            self.done += n_new
        while len(self.x) > self.max_buckets:
            k = len(self.x) // 2 * 2  # an odd last bucket goes back to the tail
            self.done -= (len(self.x) - k) * self.width
            self.x = self.x[:k:2]
            self.lo = np.fmin(self.lo[:k:2], self.lo[1:k:2])
            self.hi = np.fmax(self.hi[:k:2], self.hi[1:k:2])
            self.width *= 2
            self.update(series)

    def data(self, series: Series) -> tuple[np.ndarray, np.ndarray]:
        """Envelope points (each bucket a vertical min-max segment), then the unfolded tail."""
        x = np.concatenate([np.repeat(self.x, 2), series.x[self.done : series.n]])
        y = np.concatenate([np.stack([self.lo, self.hi], 1).ravel(), series.y[self.done : series.n]])
        return x, y


@dataclass(frozen=True)
class EmaState:
    """Where a smoothed curve stands: the biased average (it starts at 0) and how many finite
    values went into it, from which the start-up bias is removed."""

    biased: float = 0.0
    count: int = 0


def ema(values, state: EmaState = EmaState(), alpha: float = EMA_ALPHA) -> tuple[np.ndarray, EmaState]:
    """Bias-corrected exponential moving average, as TensorBoard smooths (continuing from `state`).

    The average starts at 0 and is divided by 1 - (1 - alpha)^t after t finite values, so the
    first points are the mean of what was seen, weighted as later ones are, and not pulled
    towards 0 or towards the first value alone. Non-finite inputs leave the smoothed value
    unchanged (NaN before the first finite value).

    Vectorised (a million steps in ~45 ms, where a Python loop took ~150 ms on the GUI thread
    when a long run is resumed or overlaid): y_t = d_t * y_(t-1) + u_t solved per block of
    `EMA_BLOCK` steps as y = P * (y_0 + cumsum(u / P)), P = cumprod(d); blocks keep P far from
    underflow.
    """
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    biased = np.empty(len(v))
    last = state.biased
    for b in range(0, len(v), EMA_BLOCK):
        seg, ok = v[b : b + EMA_BLOCK], finite[b : b + EMA_BLOCK]
        decay = np.cumprod(np.where(ok, 1.0 - alpha, 1.0))
        y = decay * (last + np.cumsum(np.where(ok, alpha * seg, 0.0) / decay))
        biased[b : b + len(seg)] = y
        last = float(y[-1])
    counts = state.count + np.cumsum(finite)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = biased / -np.expm1(counts * math.log1p(-alpha))  # 1 - (1 - alpha) ** count
    out[counts == 0] = np.nan
    return out, EmaState(last, int(counts[-1]) if len(v) else state.count)


class Bounds(Protocol):
    """What a range needs of a curve: the extent of its finite points."""

    x_max: float
    y_min: float
    y_max: float


class StableRange:
    """Keeps a plot's axes still while data streams in (the plot applies what `update` returns).

    pyqtgraph redraws an axis (ticks, labels, grid) whenever its view range changes, and with
    auto-range that is every frame; it was most of the cost of a live plot. Here the x range
    grows in steps (x 1.5 when the data reaches the edge) and the y range grows with a margin,
    so axes change a few times per run. Log mode, or a user who pans or zooms, hands the plot
    back to pyqtgraph's own auto-range.
    """

    def __init__(self) -> None:
        self.reset()

    def release(self, *_: object) -> None:
        self.managed = False

    def reset(self) -> None:
        self.managed = True
        self.x_max = self.expected_x = 0.0
        self.y: tuple[float, float] | None = None

    def expect(self, x_max: float) -> None:
        """The run's length is known: show all of it (the x axis then never moves). Applied at
        this plot's next draw, so the four plots do not all repaint in the same tick."""
        self.expected_x = max(self.expected_x, x_max)

    def update(self, curves: list[Bounds], log_y: bool = False):
        """(x range or None, y range or None): the ranges to set now, None where they stay."""
        if not self.managed or log_y:
            return None, None
        x_hi = max((c.x_max for c in curves), default=-math.inf)
        y_lo = min((c.y_min for c in curves), default=math.inf)
        y_hi = max((c.y_max for c in curves), default=-math.inf)
        if not (math.isfinite(x_hi) and math.isfinite(y_lo) and math.isfinite(y_hi)):
            return None, None
        x_range = y_range = None
        if x_hi > self.x_max or self.expected_x > self.x_max:
            self.x_max = max(1.5 * x_hi, 10.0) if x_hi > self.expected_x else self.expected_x
            x_range = (0.0, self.x_max)
        if self.y is None or y_lo < self.y[0] or y_hi > self.y[1]:
            span = (y_hi - y_lo) or abs(y_hi) or 1.0
            self.y = (y_lo - 0.15 * span, y_hi + 0.15 * span)
            y_range = self.y
        return x_range, y_range
