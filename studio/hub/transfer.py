"""Model-level actions of transfer learning.

* :func:`new_head` returns one undoable command that puts a Linear head for ``n`` classes
  after a backbone (with pooling when the backbone gives a feature map) and an Output; the
  editor's "New head…" action pushes it.
* :func:`preprocessing_for` and :func:`transforms_source` describe what the pretrained weights
  expect (resize, crop, mean/std). Neither the trainer nor the exported script uses them yet:
  datasets keep their own normalisation.
"""

from __future__ import annotations

from typing import Any

from studio.graph.commands import AddBlock, Command, Connect, Macro, RemoveBlocks, SetParams
from studio.graph.layout import free_row
from studio.graph.model import Graph


def new_head(graph: Graph, backbone_id: str, num_classes: int, analysis=None) -> Macro:
    """One undoable step: a Linear for ``num_classes`` classes after ``backbone_id``.

    A block whose type declares ``feature_params`` gets those first (a Backbone in
    'classifier' mode switches to 'features': its ImageNet layer goes); a feature map (N×C×H×W) is pooled and flattened first. Wires from the backbone to Output
    blocks move to the head; with no Output, one is added. The Linear's input size comes from
    the wire, so it is always right for the chosen model.
    """
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError("The number of classes must be a whole number of at least 1.")
    backbone = graph.block(backbone_id)
    commands: list[Command] = []
    params = dict(backbone.params)
    features = backbone.spec.feature_params(params) if backbone.spec.feature_params else {}
    if features:
        commands.append(SetParams(backbone_id, features))
        params.update(features)
    rank = _output_rank(graph, backbone_id, params, analysis)

    taken = set(graph.names())
    ids = _Ids(graph)
    x, y = backbone.position
    chain: list[tuple[str, str, dict[str, Any]]] = []
    if rank is not None and rank > 2:
        chain += [("adaptive_avgpool2d", "pool", {"output_size": (1, 1)}), ("flatten", "flatten", {})]
    chain.append(("linear", "head", {"out_features": num_classes}))
    outputs = [e for e in graph.outgoing(backbone_id) if graph.blocks[e.dst].spec.role == "output"]
    # in free space, a column apart, so the wire labels between the new blocks show
    places = free_row(graph, (x, y), len(chain) + (0 if outputs else 1))
    prev = backbone_id
    for i, (type_id, base, p) in enumerate(chain):
        bid = ids.next()
        name = graph.unique_name(base, taken=taken)
        taken.add(name)
        commands.append(AddBlock(type_id, places[i], name=name, params=p, block_id=bid))
        commands.append(Connect(prev, "out", bid, "in"))
        prev = bid
    if outputs:
        commands.append(RemoveBlocks([], [e.id for e in outputs]))
        commands += [Connect(prev, "out", e.dst, e.dst_port) for e in outputs]
    else:
        out_id = ids.next()
        name = graph.unique_name("logits", taken=taken)
        commands.append(AddBlock("output", places[-1], name=name, block_id=out_id))
        commands.append(Connect(prev, "out", out_id, "in"))
    return Macro(f"New head for {num_classes} classes", commands)


class _Ids:
    def __init__(self, graph: Graph) -> None:
        self.graph, self.used = graph, set()

    def next(self) -> str:
        while True:
            bid = self.graph.new_id()
            if bid not in self.used:
                self.used.add(bid)
                return bid


def _output_rank(graph: Graph, block_id: str, params: dict, analysis) -> int | None:
    """Rank of the block's output with ``params`` (None when unknown)."""
    from studio.compiler.shapes import evaluate_block

    if analysis is None:
        from studio.compiler import analyze

        analysis = analyze(graph)
    block = graph.blocks[block_id]
    e = graph.edge_into(block_id, block.input_ports()[0].name) if block.input_ports() else None
    if e is None:
        return 2 if params.get("mode") == "features" else None
    spec = analysis.edge_spec(e)
    info = evaluate_block(block.spec, params, (spec,), block.frozen, analysis.trust)
    shape = info.out_shapes[0] if info.out_shapes else None
    return len(shape) if shape else None


def preprocessing_for(graph: Graph) -> dict[str, Any] | None:
    """What the first block that loads torchvision weights expects of its images, or None.

    ``{"weights", "block", "resize", "crop", "mean", "std", "interpolation", "antialias",
    "direct"}``: sizes in pixels (resize the shorter side, then centre-crop), mean/std per
    RGB channel. ``direct`` is True when the backbone reads an Input block's 3-channel images
    itself (no adapter, no resize in between): then the trainer should apply this to the
    dataset; otherwise the graph adapts the images and only normalisation may still help.
    """
    from studio.blocks.registry import ASSET_WEIGHTS
    from studio.hub.models import get_weights
    from studio.hub.weights import graph_assets

    for block, asset in graph_assets(graph):
        if asset.kind != ASSET_WEIGHTS:
            continue
        t = get_weights(asset.name).transforms()
        e = graph.edge_into(block.id, "in")
        src = graph.blocks[e.src] if e is not None else None
        direct = (
            src is not None
            and src.spec.role == "input"
            and tuple(src.params["shape"])[:1] == (3,)
            and not block.params.get("resize")
        )
        return {
            "weights": asset.name,
            "block": block.id,
            "resize": int(t.resize_size[0]),
            "crop": int(t.crop_size[0]),
            "mean": tuple(float(v) for v in t.mean),
            "std": tuple(float(v) for v in t.std),
            "interpolation": t.interpolation.value,
            "antialias": bool(t.antialias),
            "direct": direct,
        }
    return None


def transforms_source(pre: dict[str, Any]) -> str:
    """The torchvision transform an exported training script writes for ``pre``."""
    interp = pre["interpolation"].upper()
    return (
        "transforms.Compose([\n"
        f"    transforms.Resize({pre['resize']}, interpolation=transforms.InterpolationMode.{interp}),\n"
        f"    transforms.CenterCrop({pre['crop']}),\n"
        "    transforms.ToTensor(),\n"
        f"    transforms.Normalize(mean={list(pre['mean'])}, std={list(pre['std'])}),\n"
        "])"
    )
