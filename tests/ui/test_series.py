"""The plot buffers without a window: growth, the peak envelope, the smoothing, the axis ranges."""

import math
import subprocess
import sys

import numpy as np

from studio.ui.training.series import EmaState, Envelope, Series, StableRange, ema


def test_the_buffers_import_no_qt():
    code = ("import sys; sys.modules['PySide6'] = None; sys.modules['pyqtgraph'] = None\n"
            "import studio.ui.training.series as s; print(sorted(m for m in sys.modules if 'Qt' in m))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_buffers_grow_by_doubling_and_are_nan_safe():
    s = Series(4)
    s.append(np.arange(10), [1.0, math.inf, math.nan] + [0.5] * 7)
    x, y = s.data()
    assert len(s.x) == 16 and len(x) == 10 and math.isnan(y[1]) and math.isnan(y[2])
    assert s.last_x() == 9 and s.value_at(3.4) == (3.0, 0.5)


def tensorboard_smoothing(values, weight):
    """TensorBoard's scalar smoothing (debiased EMA), step by step; non-finite values keep the
    previous smoothed value here instead of drawing it."""
    last, n, out, prev = 0.0, 0, [], math.nan
    for v in values:
        if math.isfinite(v):
            last = last * weight + (1 - weight) * v
            n += 1
            prev = last / (1 - weight**n)
        out.append(prev)
    return np.array(out)


def test_the_smoothed_curve_is_tensorboards_debiased_average():
    rng = np.random.default_rng(0)
    for trial in range(60):
        n = int(rng.integers(0, 1500))  # across several 256-step blocks
        v = rng.normal(size=n) * rng.uniform(0.1, 100) + 3
        v[rng.random(n) < 0.05] = np.nan
        v[rng.random(n) < 0.02] = np.inf
        if trial % 3 == 0:
            v[: rng.integers(0, n + 1)] = np.nan  # no finite value yet
        want = tensorboard_smoothing(v.tolist(), 0.95)
        got, _ = ema(v)
        assert np.allclose(got, want, rtol=1e-9, atol=1e-9, equal_nan=True), trial
        cut = n // 3  # delivered in two chunks, as a live run does
        a, state = ema(v[:cut])
        b, _ = ema(v[cut:], state)
        assert np.allclose(np.concatenate([a, b]), want, rtol=1e-9, atol=1e-9, equal_nan=True), trial


def test_the_smoothed_curve_is_unbiased_at_the_start():
    """A steady loss of 0.7 reads 0.7 from the first step (a plain EMA from 0 reads 0.035), and
    the first steps are their weighted mean, not the first value held for ~20 steps."""
    out, state = ema(np.full(5, 0.7))
    assert np.allclose(out, 0.7) and state.count == 5
    out, _ = ema(np.array([2.0, 0.0]))
    assert out[0] == 2.0 and math.isclose(out[1], 2.0 * 0.95 / (1 + 0.95))
    out, _ = ema(np.array([math.nan, 1.0]), EmaState())
    assert math.isnan(out[0]) and out[1] == 1.0


def test_the_envelope_keeps_every_peak_in_bounded_points():
    rng = np.random.default_rng(1)
    s, env = Series(), Envelope(max_buckets=64)
    ys_all = []
    for k in (5, 700, 1, 3000, 333):  # uneven chunks, as a live run delivers them
        ys = rng.normal(size=k)
        ys[rng.random(k) < 0.01] = np.nan
        s.append(np.arange(s.n, s.n + k), ys)
        ys_all.append(ys)
        env.update(s)
        x, y = env.data(s)
        assert len(x) <= 2 * 64 + env.width  # bounded: buckets plus an unfolded tail
        assert np.all(np.diff(x) >= 0)  # still in step order
        every = np.concatenate(ys_all)
        assert np.nanmax(y) == np.nanmax(every) and np.nanmin(y) == np.nanmin(every)  # no peak lost


class Extent:
    def __init__(self, x_max, y_min, y_max):
        self.x_max, self.y_min, self.y_max = x_max, y_min, y_max


def test_the_axes_move_in_steps_and_stop_once_the_run_length_is_known():
    r = StableRange()
    assert r.update([Extent(-math.inf, math.inf, -math.inf)]) == (None, None)  # nothing yet
    x, y = r.update([Extent(20, 0.5, 1.0)])
    assert x == (0.0, 30.0) and y[0] < 0.5 and y[1] > 1.0
    assert r.update([Extent(25, 0.6, 0.9)]) == (None, None)  # inside: nothing moves
    assert r.update([Extent(31, 0.6, 0.9)])[0] == (0.0, 46.5)
    r.expect(1000)
    assert r.update([Extent(40, 0.6, 0.9)])[0] == (0.0, 1000)
    assert r.update([Extent(900, 0.6, 0.9)]) == (None, None)
    assert r.update([Extent(900, 0.6, 2.0)], log_y=True) == (None, None)  # log axes: pyqtgraph's own
    r.release()
    assert r.update([Extent(2000, 0.0, 9.0)]) == (None, None)  # the user zoomed: hands off
    r.reset()
    assert r.managed and r.update([Extent(5, 1.0, 1.0)])[0] == (0.0, 10.0)
