"""What one training step keeps in memory, block by block, estimated without allocating it.

Weights, gradients and optimizer state come from the counts shape inference already has
(each block's parameters, trainable or frozen) and the optimizer's declaration (how many
parameter-sized tensors it keeps). Activations are what autograd really saves for backward:
the model is built from the generated source on ``meta`` and run forward once with
:func:`torch.autograd.graph.saved_tensors_hooks`; each saved tensor is charged to the block
whose generated line was running (the Python stack names the line, and ``self`` there names
the module instance, so a block inside a module definition, and each copy of a repeated one,
gets its own share). Views of one storage are counted once; parameters saved by an operation
(a Linear's weight) are weights, not activations.

Activations grow linearly with the batch (torch's own figure at two batch sizes gives the
slope), which is how the largest batch that fits a memory size is found.
"""

from __future__ import annotations

import collections
import contextlib
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.hub
import torch.nn.functional as F
from torch import nn

from studio.compiler.analysis import Analysis, analyze
from studio.compiler.block_places import BlockPlace, block_places
from studio.compiler.build import build_class, filename_for
from studio.compiler.codegen import GeneratedCode, generate
from studio.compiler.shapes import parameters_on_meta
from studio.graph.model import Graph

PRECISIONS = {
    "none": torch.float32,
    "fp32": torch.float32,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}
#: share of the device memory kept free for the allocator's caching and fragmentation, the
#: CUDA context and the kernels' workspaces
DEFAULT_MARGIN = 0.10


class EstimateError(Exception):
    """The estimate cannot be made (the model does not build or run on ``meta``)."""


@dataclass
class BlockMemory:
    """Bytes one block (or one block inside a module definition's use) keeps during a step."""

    path: tuple[str, ...]  # block ids from the top graph down (a use's copy: "id#2")
    name: str  # "layer1 > ResidualUnit #2 > conv1"
    weights: int = 0
    gradients: int = 0
    optimizer: int = 0
    activations: int = 0

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations


@dataclass
class MemoryEstimate:
    batch: int
    precision: str
    optimizer: str
    #: the blocks of the top graph, in graph order (a definition's use sums its inside)
    blocks: list[BlockMemory]
    #: the blocks inside module definitions, each copy of a repeated use on its own
    inner: list[BlockMemory] = field(default_factory=list)
    #: activations saved outside any block's line (the generated glue: rare)
    unattributed: int = 0
    #: the step's largest transient: the gradient flowing back into the largest saved tensor
    #: while the gradient of its input is computed (two of its size)
    workspace: int = 0
    #: activation bytes per extra sample (from a second meta run at another batch size)
    per_sample: float = 0.0

    @property
    def weights(self) -> int:
        return sum(b.weights for b in self.blocks)

    @property
    def gradients(self) -> int:
        return sum(b.gradients for b in self.blocks)

    @property
    def optimizer_state(self) -> int:
        return sum(b.optimizer for b in self.blocks)

    @property
    def activations(self) -> int:
        return sum(b.activations for b in self.blocks) + self.unattributed

    @property
    def peak(self) -> int:
        """One training step's peak: everything kept, plus the largest transient."""
        return (
            self.weights + self.gradients + self.optimizer_state + self.activations + self.workspace
        )

    def peak_at(self, batch: int) -> int:
        """The peak at another batch size (activations and workspace scale with the batch)."""
        fixed = self.weights + self.gradients + self.optimizer_state
        grow = self.per_sample * (batch - self.batch)
        scale = batch / self.batch
        return int(fixed + max(self.activations + grow, 0) + self.workspace * scale)

    def largest_batch(
        self, memory: int, margin: float = DEFAULT_MARGIN, limit: int = 1 << 24
    ) -> int:
        """The largest batch whose peak fits ``memory`` bytes less the margin; 0: not even 1."""
        usable = memory * (1.0 - margin)
        if self.peak_at(1) > usable:
            return 0
        lo, hi = 1, 2
        while hi < limit and self.peak_at(hi) <= usable:
            lo, hi = hi, hi * 2
        if hi >= limit and self.peak_at(limit) <= usable:
            return limit
        while hi - lo > 1:  # peak_at grows with the batch: bisect between a fit and a miss
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if self.peak_at(mid) <= usable else (lo, mid)
        return lo

    def dominant(self, n: int = 3) -> list[BlockMemory]:
        """The blocks that keep the most, largest first."""
        return sorted((b for b in self.blocks if b.total), key=lambda b: -b.total)[:n]

    def by_block(self) -> dict[str, BlockMemory]:
        return {b.path[0]: b for b in self.blocks}

    def as_dict(self) -> dict[str, Any]:
        row = lambda b: {  # noqa: E731
            "block": b.path[-1].split("#")[0],
            "path": list(b.path),
            "name": b.name,
            "weights": b.weights,
            "gradients": b.gradients,
            "optimizer": b.optimizer,
            "activations": b.activations,
            "total": b.total,
        }
        return {
            "batch": self.batch,
            "precision": self.precision,
            "optimizer": self.optimizer,
            "weights": self.weights,
            "gradients": self.gradients,
            "optimizer_state": self.optimizer_state,
            "activations": self.activations,
            "unattributed": self.unattributed,
            "workspace": self.workspace,
            "peak": self.peak,
            "activations_per_sample": self.per_sample,
            "blocks": [row(b) for b in self.blocks],
            "inner": [row(b) for b in self.inner],
        }


# ------------------------------------------------------------------------------- the estimate


def estimate_memory(
    graph: Graph,
    batch: int,
    precision: str = "none",
    optimizer: str = "adam",
    states: int = 2,
    analysis: Analysis | None = None,
    code: GeneratedCode | None = None,
) -> MemoryEstimate:
    """The memory one training step of ``graph`` needs at ``batch`` (see the module's doc).

    ``precision``: none/fp32, bf16 or fp16 (mixed precision: weights, gradients and optimizer
    state stay in float32, activations are saved in the half type). ``states``: how many
    parameter-sized tensors the optimizer keeps (its declaration says; Adam 2). Raises
    :class:`EstimateError` when the model cannot be run on ``meta``."""
    if precision not in PRECISIONS:
        raise EstimateError(f"Unknown precision {precision!r}; choose fp32, bf16 or fp16.")
    analysis = analysis if analysis is not None else analyze(graph)
    code = code if code is not None else generate(graph, "Model", analysis=analysis)
    model = _meta_model(code)
    saved, workspace = _saved_activations(model, code, graph, batch, PRECISIONS[precision])
    other = batch + 1 if batch < 4 else batch // 2
    saved_other, _ = _saved_activations(model, code, graph, other, PRECISIONS[precision])
    per_sample = (sum(saved.values()) - sum(saved_other.values())) / (batch - other)
    blocks, inner = _rows(analysis, graph, saved, states)
    unattributed = saved.get((), 0) + sum(
        n for k, n in saved.items() if k and k[0].split("#")[0] not in graph.blocks
    )
    return MemoryEstimate(
        batch, precision, optimizer, blocks, inner, unattributed, workspace, max(per_sample, 0.0)
    )


def _rows(analysis: Analysis, graph: Graph, saved: dict[tuple, int], states: int):
    """One row per top block and per block inside a use (each copy), with its bytes; a use's
    row holds the activations of everything inside it."""
    inner: list[BlockMemory] = []
    used: set[tuple] = set()

    def row(place: BlockPlace) -> BlockMemory:
        grads = _grad_bytes(place.info)
        saved_here = saved.get(place.path, 0)
        out = BlockMemory(
            place.path, place.label, place.info.size_bytes, grads, states * grads, saved_here
        )
        used.add(place.path)
        for copy in place.copies or ():
            subs = [row(p) for p in copy.places]
            inner.extend(subs)
            out.activations += sum(r.activations for r in subs) + (
                saved.get(copy.path, 0) if len(place.copies) > 1 else 0
            )
            used.add(copy.path)
        return out

    top = [row(p) for p in block_places(analysis, graph)]
    # what the stack named in a way no row matches (the blocks inside a definition written as
    # nn.Sequential run in torch's code): charged to the deepest row it is inside
    rows = {r.path: r for r in (*top, *inner)}
    for key, n in saved.items():
        if key in used or not key:
            continue
        for j in range(len(key), 0, -1):
            cut = (*key[: j - 1], key[j - 1].split("#")[0])
            if cut in rows:
                for i in range(1, j + 1):
                    anc = rows.get((*key[: i - 1], key[i - 1].split("#")[0]))
                    if anc is not None:
                        anc.activations += n
                break
    return top, inner


def _grad_bytes(info) -> int:
    """Gradients keep the parameters' dtype; the trainable share of the block's weights."""
    if not info.params or not info.trainable:
        return 0
    return (
        int(info.size_bytes * info.trainable / max(info.params, 1))
        if info.size_bytes
        else info.trainable * 4
    )


def _meta_model(code: GeneratedCode) -> nn.Module:
    cls = build_class(code)
    if "torchvision" in code.source:  # its weights download through their own import: gate it too
        import torchvision.models._api  # noqa: F401
    try:
        with torch.device("meta"), _no_weights():
            return cls()
    except Exception:
        try:
            with parameters_on_meta(), _no_weights():
                return cls()
        except Exception as e:
            raise EstimateError(
                f"The model cannot be built without memory to estimate it: {e}"
            ) from None


_GATE = threading.Lock()
_INSIDE: collections.Counter[int] = collections.Counter()  # threads inside `_no_weights`, nested
_SAVED: tuple | None = None  # torch's own functions while the replacements are installed


@contextlib.contextmanager
def _no_weights():
    """Build without reading or downloading pretrained weights: their values do not change what
    a step keeps, and an estimate must never touch the network or a large file. Only the threads
    inside this block are affected (estimates run in workers; the window may load weights
    meanwhile). The replacements are installed by the first thread in and removed by the last
    one out, so overlapping estimates never leave one behind."""
    global _SAVED
    me = threading.get_ident()
    with _GATE:
        if not _INSIDE:
            weights = getattr(sys.modules.get("torchvision.models._api"), "WeightsEnum", None)
            _SAVED = (
                torch.hub.load_state_dict_from_url,
                torch.load,
                nn.Module.load_state_dict,
                weights,
                weights and weights.get_state_dict,
            )
            hub, load, load_state, _, state_of = _SAVED

            def gated(replacement, original):
                def call(*args, **kwargs):
                    if _INSIDE.get(threading.get_ident()):
                        return replacement(*args, **kwargs)
                    return original(*args, **kwargs)

                return call

            torch.hub.load_state_dict_from_url = gated(lambda *a, **k: {}, hub)
            torch.load = gated(lambda *a, **k: {}, load)
            nn.Module.load_state_dict = gated(
                lambda self, *a, **k: nn.modules.module._IncompatibleKeys([], []), load_state
            )
            if weights is not None:  # torchvision's Weights.get_state_dict: its own bound
                weights.get_state_dict = gated(lambda self, *a, **k: {}, state_of)  # download
        _INSIDE[me] += 1
    try:
        yield
    finally:
        with _GATE:
            _INSIDE[me] -= 1
            if _INSIDE[me] <= 0:
                del _INSIDE[me]
            if not _INSIDE and _SAVED is not None:
                hub, load, load_state, weights, state_of = _SAVED
                torch.hub.load_state_dict_from_url, torch.load = hub, load
                nn.Module.load_state_dict = load_state
                if weights is not None:
                    weights.get_state_dict = state_of
                _SAVED = None


def _inputs(graph: Graph, batch: int, dtype: torch.dtype) -> list[torch.Tensor]:
    from studio.compiler import input_specs

    out = []
    for _, shape, name in input_specs(graph):
        dt = getattr(torch, name)
        if dt.is_floating_point:
            out.append(
                torch.empty(
                    (batch, *shape), dtype=dtype if dtype != torch.float32 else dt, device="meta"
                )
            )
        else:
            out.append(torch.zeros((batch, *shape), dtype=dt, device="meta"))
    return out


class SavedTensors:
    """Bytes of every storage autograd saves while active, charged to the block whose generated
    line runs (``located``: path -> bytes). ``exclude``: storages not to count (parameters)."""

    def __init__(self, code: GeneratedCode, graph: Graph, model: nn.Module) -> None:
        self.locate = BlockLocator(code, graph, model)
        self.seen: set[int] = {_storage_key(p) for p in model.parameters()}
        self.seen |= {_storage_key(b) for b in model.buffers()}
        self.located: dict[tuple, int] = {}
        self.largest = 0
        self._keep: list[torch.Tensor] = []

    def pack(self, t: torch.Tensor):
        key = _storage_key(t)
        if key not in self.seen:
            self.seen.add(key)
            self._keep.append(t)  # the storage stays alive: its address is not reused
            n = t.untyped_storage().nbytes()
            path = self.locate(sys._getframe(1))
            self.located[path] = self.located.get(path, 0) + n
            self.largest = max(self.largest, n)
        return None  # nothing runs backward; see _unpacked

    @contextlib.contextmanager
    def hooks(self):
        try:
            with torch.autograd.graph.saved_tensors_hooks(self.pack, _unpacked):
                yield self
        finally:
            self._keep.clear()  # see _unpacked


def _unpacked(_packed) -> None:
    """The estimates count what a step saves and never run backward, so their pack hooks keep
    nothing in the autograd graph, and the tensors they hold on to meanwhile are let go when
    the forward pass ends. Otherwise each saved variable holds the pack hook (and through it
    the model) in torch's C++, and the tensors kept or returned by the hook hold their autograd
    nodes: loops the garbage collector cannot see. Every estimate's meta model stayed alive (12
    modules more per estimate of the Shapes CNN; 140 nn.Linear more per edit of a 300-block
    model in the window, as long as it was open)."""
    raise RuntimeError("the memory estimate's forward pass is not for backward")


def _storage_key(t: torch.Tensor) -> int:
    try:
        return t.untyped_storage()._cdata
    except Exception:  # a tensor subclass without a storage
        return id(t)


def _saved_activations(
    model, code, graph, batch: int, dtype: torch.dtype
) -> tuple[dict[tuple, int], int]:
    model.train()
    saved = SavedTensors(code, graph, model)
    xs = _inputs(graph, batch, dtype)
    cast = dtype != torch.float32
    try:
        with saved.hooks(), torch.enable_grad(), fused_attention():
            if cast:  # mixed precision: matmuls and convolutions work (and save) in the half type
                with _half_forward(model, dtype):
                    model(*xs)
            else:
                model(*xs)
    except Exception as e:
        raise EstimateError(
            f"The model cannot run on meta tensors to estimate its memory: {e}"
        ) from None
    return saved.located, 2 * saved.largest


@contextlib.contextmanager
def fused_attention():
    """Attention on ``meta`` as the devices run it. On ``meta``, ``scaled_dot_product_attention``
    takes the math path, which saves the whole attention matrix; the CPU (and CUDA) pick a fused
    kernel that saves only the output and one log-sum-exp per row. Where torch would choose
    the fused kernel (4-d inputs, no dropout, no grouped heads), it is called here too. The
    function is swapped in ``torch.nn.functional`` for the duration, so the calls inside
    ``nn.MultiheadAttention`` (a ViT's) are seen as well as the model's own."""
    original = F.scaled_dot_product_attention

    def attention(*args, **kwargs):
        fused = (
            _fused_attention(*args, **kwargs) if args and args[0].device.type == "meta" else None
        )
        return fused if fused is not None else original(*args, **kwargs)

    F.scaled_dot_product_attention = attention
    try:
        yield
    finally:
        F.scaled_dot_product_attention = original


def _fused_attention(
    query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False
):
    if dropout_p or enable_gqa or query.dim() != 4 or key.shape[:2] != query.shape[:2]:
        return None
    if not (query.dtype == key.dtype == value.dtype) or not query.dtype.is_floating_point:
        return None
    if attn_mask is not None and attn_mask.dtype == torch.bool:
        return None  # torch turns a boolean mask into a float one first: leave it the default path
    try:
        out, _ = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
            query, key, value, 0.0, is_causal, attn_mask=attn_mask, scale=scale
        )
    except Exception:
        return None
    return out


@contextlib.contextmanager
def _half_forward(model: nn.Module, dtype: torch.dtype):
    """Run with the floating parameters in ``dtype`` (what autocast computes in), restored after."""
    kept = {}
    for name, p in model.named_parameters():
        kept[name] = p.data
        p.data = p.data.to(dtype)
    try:
        yield
    finally:
        for name, p in model.named_parameters():
            p.data = kept[name]


class BlockLocator:
    """The block path whose generated line is running: called with a Python frame, it walks out
    to the model's forward and returns the block ids from the top graph down (a repeated use's
    copy as ``id#i``); ``()`` when no generated line is on the stack."""

    def __init__(self, code: GeneratedCode, graph: Graph, model: nn.Module) -> None:
        self.filename = filename_for(code)
        self.top = code.line_blocks
        self.inner = code.class_line_blocks
        self.graph = graph
        self.names = {id(m): name for name, m in model.named_modules()}
        self.model = model
        self._cache: dict[tuple, tuple] = {}

    def __call__(self, frame) -> tuple[str, ...]:
        chain = []
        f = frame
        while f is not None:
            if f.f_code.co_filename == self.filename:
                chain.append((f.f_locals.get("self"), f.f_lineno))
            f = f.f_back
        if not chain:
            return ()
        chain.reverse()
        key = tuple((id(m), line) for m, line in chain)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._path(chain)
        return hit

    def _path(self, chain) -> tuple[str, ...]:
        path: list[str] = []
        graph = self.graph
        for i, (module, line) in enumerate(chain):
            bid = (self.top if i == 0 else self.inner).get(line)
            if bid is None or graph is None or bid not in graph.blocks:
                break
            tag = bid
            if i + 1 < len(chain):  # which copy of a repeated use the next frame's module is
                outer, inside = self.names.get(id(module)), self.names.get(id(chain[i + 1][0]))
                if outer is not None and inside is not None:
                    rel = inside[len(outer) + 1 :] if outer else inside
                    parts = rel.split(".")
                    if len(parts) == 2 and parts[1].isdigit():
                        tag = f"{bid}#{parts[1]}"
            path.append(tag)
            defn = graph.blocks[bid].spec.definition
            graph = defn.graph if defn is not None else None
        return tuple(path)


def model_step_bytes(
    model: nn.Module, inputs: list[tuple[tuple[int, ...], torch.dtype]], states: int
) -> int:
    """One training step's peak for a built ``model`` (anywhere: its weights are not touched)
    at the given input shapes (batch included): run on ``meta`` copies of its parameters."""
    from torch.func import functional_call

    fake = {
        k: torch.empty_like(v, device="meta").requires_grad_(v.requires_grad)
        for k, v in model.named_parameters()
    }
    fake |= {k: torch.empty_like(v, device="meta") for k, v in model.named_buffers()}
    seen = {_storage_key(t) for t in fake.values()}
    kept: list[torch.Tensor] = []
    total = largest = 0

    def pack(t: torch.Tensor):
        nonlocal total, largest
        key = _storage_key(t)
        if key not in seen:
            seen.add(key)
            kept.append(t)
            n = t.untyped_storage().nbytes()
            total, largest = total + n, max(largest, n)
        return None  # see _unpacked

    xs = [
        torch.empty(s, dtype=d, device="meta")
        if d.is_floating_point
        else torch.zeros(s, dtype=d, device="meta")
        for s, d in inputs
    ]
    was = model.training
    model.train()
    try:
        with (
            torch.autograd.graph.saved_tensors_hooks(pack, _unpacked),
            torch.enable_grad(),
            fused_attention(),
        ):
            functional_call(model, fake, tuple(xs))
    finally:
        model.train(was)
        kept.clear()  # see _unpacked
    weights = sum(v.numel() * v.element_size() for v in fake.values())
    grads = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    return weights + grads * (1 + states) + total + 2 * largest
