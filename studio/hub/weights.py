"""Pretrained weights: found in torch's hub cache, or downloaded there with progress.

The cache is torch's own (``torch.hub.get_dir()/checkpoints/<file name from the weights
URL>``), so weights downloaded by Studio, by torchvision or by hand are the same files, and
the generated code (``resnet18(weights=ResNet18_Weights.IMAGENET1K_V1)``) finds them there.

Downloads report progress through a callback (the GUI adapts it to a throttled signal; the
terminal gets :func:`terminal_progress`) and stop when a cancel flag is set. Shape inference
and code generation never need any of this; the training/build path calls
:func:`prepare_graph_weights` before it builds a model with pretrained weights.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from studio.blocks.registry import ASSET_HUB_REPO, ASSET_WEIGHTS, ASSET_WEIGHTS_FILE, Asset
from studio.graph.modules import blocks_deep
from studio.hub.models import filename_of, get_weights

CHUNK = 1 << 16
_HASH = re.compile(r"-([a-f0-9]*)\.")  # torch.hub's convention: resnet18-f37072fd.pth
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


class WeightsError(Exception):
    """Weights that cannot be had or used; ``str()`` says what to do."""


class DownloadCancelled(WeightsError):
    """The user cancelled a download."""


class Cancel(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class Progress:
    """One progress report: ``done`` of ``total`` bytes (total None when unknown)."""

    filename: str
    done: int
    total: int | None

    @property
    def fraction(self) -> float | None:
        return self.done / self.total if self.total else None


ProgressCallback = Callable[[Progress], None]


def cache_dir() -> Path:
    """torch's checkpoint folder, where weights are looked for and downloaded to."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def _weights(weights):
    return get_weights(weights) if isinstance(weights, str) else weights


def cached_path(weights) -> Path | None:
    """The cached file of ``weights`` (a member or ``"ResNet18_Weights.IMAGENET1K_V1"``)."""
    path = cache_dir() / filename_of(_weights(weights).url)
    return path if path.is_file() else None


def ensure_weights(
    weights,
    progress: ProgressCallback | None = None,
    cancel: Cancel | None = None,
    mirror: str | None = None,
) -> Path:
    """The cached file of ``weights``, downloaded first if needed.

    ``mirror`` (or the ``STUDIO_WEIGHTS_MIRROR`` environment variable) is a base URL that
    serves the same file names, for machines that cannot reach download.pytorch.org.
    Raises :class:`WeightsError` (offline, interrupted) or :class:`DownloadCancelled`.
    """
    w = _weights(weights)
    found = cached_path(w)
    if found is not None:
        return found
    filename = filename_of(w.url)
    mirror = mirror or os.environ.get("STUDIO_WEIGHTS_MIRROR")
    url = mirror.rstrip("/") + "/" + filename if mirror else w.url
    dest = cache_dir() / filename
    download(url, dest, progress=progress, cancel=cancel, manual_url=w.url)
    return dest


def download(
    url: str,
    dest: Path,
    progress: ProgressCallback | None = None,
    cancel: Cancel | None = None,
    manual_url: str | None = None,
) -> Path:
    """Download ``url`` to ``dest`` through a temporary file; check torch.hub's hash prefix."""
    filename = dest.name
    folder = dest.parent

    def failed(reason: str) -> WeightsError:
        return WeightsError(
            f"Could not download {filename} ({reason}). Download {manual_url or url} yourself and "
            f"put it in {folder} under the name {filename}, then try again."
        )

    host = urlparse(url).hostname or ""
    if os.environ.get("STUDIO_NO_NETWORK") and urlparse(url).scheme != "file" and host not in _LOOPBACK:
        raise failed("the network is switched off")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise WeightsError(f"Cannot create the weights folder {folder}: {e.strerror or e}") from None
    sha = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=30)
            except (urllib.error.URLError, OSError, ValueError) as e:
                raise failed(_reason(e)) from None
            with response:
                length = response.headers.get("Content-Length") if response.headers else None
                total = int(length) if length and length.isdigit() else None
                done, shown = 0, -1
                _report(progress, filename, 0, total)
                while True:
                    if cancel is not None and cancel.is_set():
                        raise DownloadCancelled(f"Download of {filename} cancelled.")
                    try:
                        chunk = response.read(CHUNK)
                    except (OSError, urllib.error.URLError) as e:
                        raise failed(f"interrupted: {_reason(e)}") from None
                    if not chunk:
                        break
                    out.write(chunk)
                    sha.update(chunk)
                    done += len(chunk)
                    # report only when the shown value changes (a percent, or a MB if unknown)
                    step = done * 100 // total if total else done >> 20
                    if step != shown:
                        shown = step
                        _report(progress, filename, done, total)
        if total is not None and done != total:
            raise failed(f"interrupted after {done:,} of {total:,} bytes")
        m = _HASH.search(filename)
        if m and not sha.hexdigest().startswith(m.group(1)):
            raise failed("the file is damaged: its checksum does not match")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _report(progress: ProgressCallback | None, filename: str, done: int, total: int | None) -> None:
    if progress is not None:
        progress(Progress(filename, done, total))


def _reason(e: BaseException) -> str:
    reason = getattr(e, "reason", None) or getattr(e, "strerror", None) or e
    return str(reason) or type(e).__name__


def terminal_progress(stream=None) -> ProgressCallback:
    """A progress callback that draws a one-line bar on the terminal (stderr)."""
    stream = stream or sys.stderr

    def show(p: Progress) -> None:
        if p.total:
            n = int(30 * p.done / p.total)
            line = f"\r{p.filename}  [{'#' * n}{'.' * (30 - n)}] {p.done / p.total:4.0%} of {p.total / 1e6:.1f} MB"
        else:
            line = f"\r{p.filename}  {p.done / 1e6:.1f} MB"
        stream.write(line)
        if p.total and p.done >= p.total:
            stream.write("\n")
        stream.flush()

    return show


# ------------------------------------------------------------------- local files
def check_weights_file(model: str, path: str | Path) -> None:
    """Raise :class:`WeightsError` unless ``path`` is a state_dict that fits ``model``.

    The message lists missing and unexpected keys and shape mismatches."""
    import torch

    from studio.hub.models import meta_model, structure

    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"The weights file {path} does not exist.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as e:
        raise WeightsError(f"{path.name} is not a PyTorch weights file Studio can read safely ({e}).") from None
    if isinstance(state, dict) and not all(isinstance(v, torch.Tensor) for v in state.values()):
        inner = [k for k in ("state_dict", "model", "model_state_dict") if isinstance(state.get(k), dict)]
        hint = f" It holds a checkpoint; save checkpoint[{inner[0]!r}] on its own." if inner else ""
        raise WeightsError(f"{path.name} is not a state_dict of tensors.{hint}")
    if not isinstance(state, dict):
        raise WeightsError(f"{path.name} holds a {type(state).__name__}, not a state_dict.")
    kwargs = {"aux_logits": False} if "aux_logits" in structure(model).init_args else {}
    expected = {k: tuple(v.shape) for k, v in meta_model(model, **kwargs).state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    wrong = sorted(k for k in set(expected) & set(got) if expected[k] != got[k])
    if not (missing or unexpected or wrong):
        return
    parts = []
    if missing:
        parts.append(f"missing {len(missing)} key(s): {_few(missing)}")
    if unexpected:
        parts.append(f"unexpected {len(unexpected)} key(s): {_few(unexpected)}")
    if wrong:
        parts.append(
            "wrong shapes: "
            + _few([f"{k} is {'×'.join(map(str, got[k]))}, {model} needs {'×'.join(map(str, expected[k]))}" for k in wrong])
        )
    raise WeightsError(f"{path.name} does not fit {model}: " + "; ".join(parts) + ".")


def _few(items: list[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


# ------------------------------------------------------------------------ graphs
def graph_assets(graph) -> list[tuple[object, Asset]]:
    """(block, asset) for everything building ``graph`` loads, as each block type declares it."""
    return [(block, a) for block in blocks_deep(graph) for a in block.spec.needed_assets(block.params)]


def graph_weights(graph) -> list[str]:
    """The torchvision weights (``ResNet18_Weights.IMAGENET1K_V1``...) that building ``graph`` loads."""
    out: list[str] = []
    for _, a in graph_assets(graph):
        if a.kind == ASSET_WEIGHTS and a.name not in out:
            out.append(a.name)
    return out


def prepare_graph_weights(
    graph,
    progress: ProgressCallback | None = None,
    cancel: Cancel | None = None,
) -> list[Path]:
    """Make sure everything ``graph`` loads when built is on this machine; call it (in a
    worker thread) before building a model for training.

    Downloads missing torchvision weights into the cache, checks local weights files, and
    for torch.hub blocks checks trust and downloads the repository's code. Returns the files.
    Raises :class:`WeightsError` or :class:`studio.hub.repos.HubError` with the message.
    """
    files = [ensure_weights(name, progress=progress, cancel=cancel) for name in graph_weights(graph)]
    for block, asset in graph_assets(graph):
        if asset.kind in _FETCH:
            files.append(_FETCH[asset.kind](block, asset))
    return files


def _weights_file(block, asset: Asset) -> Path:
    try:
        check_weights_file(asset.model, asset.name)
    except WeightsError as e:
        raise WeightsError(f"{block.name}: {e}") from None
    return Path(asset.name).expanduser()


def _hub_repo(block, asset: Asset) -> Path:
    from studio.hub.repos import fetch_repo
    from studio.trust import is_trusted

    # the project file says "trusted"; only the user (this session) can make it so
    return fetch_repo(asset.name, trusted=asset.trusted and is_trusted(asset.name))


#: how each asset kind besides torchvision weights (fetched first, once each) is had
_FETCH = {ASSET_WEIGHTS_FILE: _weights_file, ASSET_HUB_REPO: _hub_repo}
