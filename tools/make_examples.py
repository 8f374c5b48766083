"""Regenerate the example projects in resources/examples/ (run from the repository root)."""

from __future__ import annotations

from pathlib import Path

from studio.graph.layout import layered_layout, wrapped_layout
from studio.graph.model import Graph
from studio.graph.project import Project, save_project

OUT = Path(__file__).resolve().parent.parent / "resources" / "examples"


def chain(g: Graph, *blocks) -> None:
    for a, b in zip(blocks, blocks[1:]):
        g.connect(a.id, "out", b.id, b.input_ports()[0].name)


def arrange(g: Graph) -> None:
    for bid, pos in layered_layout(g).items():
        g.move(bid, pos)


def arrange_inside(g: Graph) -> None:
    """A definition's graph wrapped into bands that fit a 1280x720 window's canvas at a
    readable zoom, so opening the module shows all of it."""
    for bid, pos in (wrapped_layout(g, 780, 600) or {}).items():
        g.move(bid, pos)


def mlp() -> Project:
    g = Graph()
    x = g.add_block("input", name="points", params={"shape": [2]})
    fc1 = g.add_block("linear", name="fc1", params={"out_features": 64})
    r1 = g.add_block("relu", name="relu1")
    fc2 = g.add_block("linear", name="fc2", params={"out_features": 64})
    r2 = g.add_block("relu", name="relu2")
    fc3 = g.add_block("linear", name="classifier", params={"out_features": 2})
    out = g.add_block("output", name="logits")
    chain(g, x, fc1, r1, fc2, r2, fc3, out)
    arrange(g)
    return Project(
        name="Spiral classifier",
        graph=g,
        training={
            "data": {"kind": "spirals", "n": 1000, "noise": 0.2, "classes": 2},
            "loss": {"name": "cross_entropy"},
            "optimizer": {"name": "adam", "lr": 0.01},
            "epochs": 30,
            "batch_size": 64,
            "seed": 0,
        },
        metadata={"description": "A Linear/ReLU classifier that learns to separate two interleaved spirals."},
    )


def cnn() -> Project:
    g = Graph()
    x = g.add_block("input", name="image", params={"shape": [1, 28, 28]})
    c1 = g.add_block("conv2d", name="conv1", params={"out_channels": 16, "kernel_size": 3, "padding": 1})
    r1 = g.add_block("relu", name="relu1")
    p1 = g.add_block("maxpool2d", name="pool1", params={"kernel_size": 2})
    c2 = g.add_block("conv2d", name="conv2", params={"out_channels": 32, "kernel_size": 3, "padding": 1})
    r2 = g.add_block("relu", name="relu2")
    p2 = g.add_block("maxpool2d", name="pool2", params={"kernel_size": 2})
    f = g.add_block("flatten", name="flatten")
    fc = g.add_block("linear", name="fc", params={"out_features": 64})
    r3 = g.add_block("relu", name="relu3")
    d = g.add_block("dropout", name="dropout", params={"p": 0.25})
    head = g.add_block("linear", name="classifier", params={"out_features": 3})
    out = g.add_block("output", name="logits")
    chain(g, x, c1, r1, p1, c2, r2, p2, f, fc, r3, d, head, out)
    arrange(g)
    return Project(
        name="Shapes CNN",
        graph=g,
        training={
            "data": {"kind": "shapes", "n": 1500},
            "loss": {"name": "cross_entropy"},
            "optimizer": {"name": "adam", "lr": 0.001},
            "epochs": 5,
            "batch_size": 64,
            "seed": 0,
        },
        metadata={"description": "A small CNN that tells drawn circles, squares and triangles apart (1×28×28)."},
    )


def residual() -> Project:
    g = Graph()
    x = g.add_block("input", name="image", params={"shape": [1, 28, 28]})
    stem = g.add_block("conv2d", name="stem", params={"out_channels": 16, "kernel_size": 3, "padding": 1})
    bn0 = g.add_block("batchnorm2d", name="stem_bn")
    r0 = g.add_block("relu", name="stem_relu")
    chain(g, x, stem, bn0, r0)
    prev = r0
    for i in (1, 2):
        c1 = g.add_block("conv2d", name=f"block{i}_conv1", params={"out_channels": 16, "padding": 1})
        b1 = g.add_block("batchnorm2d", name=f"block{i}_bn1")
        a1 = g.add_block("relu", name=f"block{i}_relu1")
        c2 = g.add_block("conv2d", name=f"block{i}_conv2", params={"out_channels": 16, "padding": 1})
        b2 = g.add_block("batchnorm2d", name=f"block{i}_bn2")
        add = g.add_block("add", name=f"block{i}_skip")
        a2 = g.add_block("relu", name=f"block{i}_out")
        chain(g, prev, c1, b1, a1, c2, b2)
        g.connect(b2.id, "out", add.id, "in1")
        g.connect(prev.id, "out", add.id, "in2")
        g.connect(add.id, "out", a2.id, "in")
        prev = a2
    gap = g.add_block("adaptive_avgpool2d", name="pool")
    flat = g.add_block("flatten", name="flatten")
    head = g.add_block("linear", name="classifier", params={"out_features": 3})
    out = g.add_block("output", name="logits")
    chain(g, prev, gap, flat, head, out)
    arrange(g)
    return Project(
        name="Residual network",
        graph=g,
        training={
            "data": {"kind": "shapes", "n": 1500},
            "loss": {"name": "cross_entropy"},
            "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9},
            "epochs": 5,
            "batch_size": 64,
            "seed": 0,
        },
        metadata={"description": "Two residual blocks with skip connections (Add), batch norm and global average pooling."},
    )


def transfer_learning() -> Project:
    """A pretrained MobileNetV3 (frozen) with a new head, on the 1×28×28 shapes dataset.

    The images are grayscale and small: a 1×1 Conv2d learns a colour mapping to the three
    channels the pretrained network expects, and the Backbone resizes to 96×96 first.
    """
    g = Graph()
    x = g.add_block("input", name="image", params={"shape": [1, 28, 28]})
    rgb = g.add_block("conv2d", name="to_rgb", params={"out_channels": 3, "kernel_size": 1, "padding": 0})
    bb = g.add_block(
        "backbone",
        name="backbone",
        params={
            "model": "mobilenet_v3_small",
            "weights": "IMAGENET1K_V1",
            "mode": "features",
            "freeze": "backbone",
            "resize": 96,
        },
    )
    head = g.add_block("linear", name="head", params={"out_features": 3})
    out = g.add_block("output", name="logits")
    chain(g, x, rgb, bb, head, out)
    arrange(g)
    return Project(
        name="Transfer learning",
        graph=g,
        training={
            "data": {"kind": "shapes", "n": 1500},
            "loss": {"name": "cross_entropy"},
            "optimizer": {"name": "adam", "lr": 0.001},
            "epochs": 3,
            "batch_size": 64,
            "seed": 0,
        },
        metadata={
            "description": (
                "A frozen, ImageNet-pretrained MobileNetV3-Small as a feature extractor with a new "
                "Linear head for circles, squares and triangles. A 1×1 convolution maps the "
                "grayscale 28×28 images to three channels; the backbone resizes them to 96×96. "
                "Only the adapter and the head train. The weights (10 MB) download once."
            )
        },
    )


def _unit(g: Graph, name: str, downsample: bool) -> None:
    """A residual unit (conv-bn-relu-conv-bn, plus the input or a 1x1 conv of it, then relu)
    with per-use parameters ``planes`` and ``stride``."""
    from studio.graph.modules import DefinitionParam

    d = g.library.new(name)
    m = d.graph
    x = m.add_block("input", name="x", params={"shape": [16, 28, 28]})
    conv = {"kernel_size": 3, "padding": 1, "bias": False}
    c1 = m.add_block("conv2d", name="conv1", params={"out_channels": 16, **conv})
    b1 = m.add_block("batchnorm2d", name="bn1")
    r1 = m.add_block("relu", name="relu1")
    c2 = m.add_block("conv2d", name="conv2", params={"out_channels": 16, **conv})
    b2 = m.add_block("batchnorm2d", name="bn2")
    add = m.add_block("add", name="add")
    r2 = m.add_block("relu", name="relu2")
    out = m.add_block("output", name="out")
    chain(m, x, c1, b1, r1, c2, b2, add)
    chain(m, add, r2, out)
    planes, stride = [(c1.id, "out_channels"), (c2.id, "out_channels")], [(c1.id, "stride")]
    if downsample:
        ds = m.add_block("conv2d", name="downsample", params={"out_channels": 16, "kernel_size": 1, "padding": 0, "bias": False})
        dbn = m.add_block("batchnorm2d", name="downsample_bn")
        chain(m, x, ds, dbn)
        m.connect(dbn.id, "out", add.id, "in2")
        planes.append((ds.id, "out_channels"))
        stride.append((ds.id, "stride"))
    else:
        m.connect(x.id, "out", add.id, "in2")
    d.params["planes"] = DefinitionParam("planes", tuple(planes), "Channels of the unit's convolutions.")
    d.params["stride"] = DefinitionParam("stride", tuple(stride), "2 halves the height and width.")
    arrange_inside(m)


def shapes_resnet() -> Project:
    g = Graph()
    _unit(g, "ResidualUnit", downsample=False)
    _unit(g, "DownsampleUnit", downsample=True)
    x = g.add_block("input", name="image", params={"shape": [1, 28, 28]})
    stem = g.add_block("conv2d", name="stem", params={"out_channels": 16, "kernel_size": 3, "padding": 1, "bias": False})
    bn = g.add_block("batchnorm2d", name="stem_bn")
    relu = g.add_block("relu", name="stem_relu")
    l1 = g.add_block("module:ResidualUnit", name="layer1", params={"repeat": 2, "planes": 16})
    l2 = g.add_block("module:DownsampleUnit", name="layer2", params={"planes": 32, "stride": 2})
    l3 = g.add_block("module:ResidualUnit", name="layer3", params={"planes": 32})
    pool = g.add_block("adaptive_avgpool2d", name="pool", params={"output_size": 1})
    flat = g.add_block("flatten", name="flatten")
    head = g.add_block("linear", name="classifier", params={"out_features": 3})
    out = g.add_block("output", name="logits")
    chain(g, x, stem, bn, relu, l1, l2, l3, pool, flat, head, out)
    arrange(g)
    return Project(
        name="Shapes ResNet",
        graph=g,
        training={
            "data": {"kind": "shapes", "n": 1500},
            "loss": {"name": "cross_entropy"},
            "optimizer": {"name": "adam", "lr": 0.003},
            "epochs": 3,
            "batch_size": 64,
            "seed": 0,
        },
        metadata={
            "description": (
                "A small ResNet built from two module definitions: ResidualUnit, used three times "
                "(layer1 repeats it twice), and DownsampleUnit. Each becomes its own nn.Module "
                "class in the code; double-click a module to open it."
            )
        },
    )


def _gpt_attention(g: Graph, width: int, heads: int) -> None:
    """CausalSelfAttention: query, key and value projections split into heads, causal
    scaled-dot-product attention, the heads merged back and projected."""
    m = g.library.new("CausalSelfAttention").graph
    x = m.add_block("input", name="x", params={"shape": [64, width]})
    sdpa = m.add_block("scaled_dot_product_attention", name="attention", params={"is_causal": True})
    for role in ("query", "key", "value"):
        proj = m.add_block("linear", name=role, params={"out_features": width})
        split = m.add_block("reshape", name=f"{role}_heads", params={"shape": [-1, heads, width // heads]})
        swap = m.add_block("transpose", name=f"{role}_by_head", params={"dim0": 1, "dim1": 2})
        chain(m, x, proj, split, swap)
        m.connect(swap.id, "out", sdpa.id, role)
    back = m.add_block("transpose", name="by_position", params={"dim0": 1, "dim1": 2})
    merge = m.add_block("reshape", name="merge_heads", params={"shape": [-1, width]})
    proj = m.add_block("linear", name="proj", params={"out_features": width})
    out = m.add_block("output", name="out")
    chain(m, sdpa, back, merge, proj, out)
    arrange_inside(m)


def _gpt_block(g: Graph, width: int) -> None:
    """The decoder block: x + attention(ln_1(x)), then x + mlp(ln_2(x)) (pre-norm, as GPT-2)."""
    mlp = g.library.new("MLP").graph
    x = mlp.add_block("input", name="x", params={"shape": [64, width]})
    fc = mlp.add_block("linear", name="fc", params={"out_features": 4 * width})
    act = mlp.add_block("gelu", name="gelu")
    proj = mlp.add_block("linear", name="proj", params={"out_features": width})
    drop = mlp.add_block("dropout", name="dropout", params={"p": 0.1})
    chain(mlp, x, fc, act, proj, drop, mlp.add_block("output", name="out"))
    arrange_inside(mlp)
    m = g.library.new("Block").graph
    x = m.add_block("input", name="x", params={"shape": [64, width]})
    ln1 = m.add_block("layernorm", name="ln_1")
    attn = m.add_block("module:CausalSelfAttention", name="attn")
    add1 = m.add_block("add", name="add_attn")
    ln2 = m.add_block("layernorm", name="ln_2")
    ff = m.add_block("module:MLP", name="mlp")
    add2 = m.add_block("add", name="add_mlp")
    chain(m, x, ln1, attn, add1, ln2, ff, add2, m.add_block("output", name="out"))
    m.connect(x.id, "out", add1.id, "in2")
    m.connect(add1.id, "out", add2.id, "in2")
    arrange_inside(m)


def tiny_gpt() -> Project:
    """A character-level GPT for the shipped tales (vocabulary 49, context 64)."""
    width, heads, vocab, context = 64, 4, 49, 64
    g = Graph()
    _gpt_attention(g, width, heads)
    _gpt_block(g, width)
    x = g.add_block("input", name="tokens", params={"shape": [context], "dtype": "int64"})
    tok = g.add_block("embedding", name="token_embedding", params={"num_embeddings": vocab, "embedding_dim": width})
    pos = g.add_block("learned_positions", name="position_embedding")
    blocks = g.add_block("module:Block", name="blocks", params={"repeat": 2})
    ln = g.add_block("layernorm", name="ln_f")
    head = g.add_block("linear", name="lm_head", params={"out_features": vocab, "bias": False})
    chain(g, x, tok, pos, blocks, ln, head, g.add_block("output", name="logits"))
    arrange(g)
    return Project(
        name="Tiny GPT",
        graph=g,
        training={
            "data": {"kind": "text", "path": "../data/tiny_tales.txt", "tokenizer": "char", "block_size": context, "stride": 32},
            "loss": {"name": "next_token"},
            "optimizer": {"name": "adamw", "lr": 0.003},
            "epochs": 8,
            "batch_size": 64,
            "seed": 0,
        },
        metadata={
            "description": (
                "A character-level GPT (token and position embeddings, a decoder Block repeated "
                "twice with causal self-attention and an MLP, a final LayerNorm and a head) that "
                "learns to write like the shipped tales; Try it generates text from a prompt."
            )
        },
    )


EXAMPLES = {
    "mlp_classifier": mlp,
    "shapes_cnn": cnn,
    "residual_network": residual,
    "transfer_learning": transfer_learning,
    "shapes_resnet": shapes_resnet,
    "tiny_gpt": tiny_gpt,
}

if __name__ == "__main__":
    import sys

    OUT.mkdir(parents=True, exist_ok=True)
    for stem in sys.argv[1:] or list(EXAMPLES):
        path = save_project(EXAMPLES[stem](), OUT / f"{stem}.studio.json")
        print("wrote", path)
