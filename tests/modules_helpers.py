"""Small projects with module definitions, built through the model API (shared by tests)."""

from studio.graph.model import Graph
from studio.graph.modules import DefinitionParam


def chain(graph, *specs):
    """Add blocks ``(type, kwargs)`` wired one after another; returns them."""
    prev, out = None, []
    for type_id, kw in specs:
        b = graph.add_block(type_id, **kw)
        if prev is not None:
            graph.connect(prev.id, prev.output_ports()[0].name, b.id, b.input_ports()[0].name)
        prev = b
        out.append(b)
    return out


def residual_unit(library, name="ResidualUnit", downsample=False):
    """conv-bn-relu-conv-bn + skip (a 1x1 conv + bn when ``downsample``), then relu; per-use
    parameters ``planes`` and ``stride``."""
    d = library.new(name)
    g = d.graph
    x, c1, b1, r1, c2, b2 = chain(
        g,
        ("input", dict(name="x", params={"shape": [8, 16, 16]})),
        ("conv2d", dict(name="conv1", params={"out_channels": 8, "kernel_size": 3, "padding": 1, "bias": False})),
        ("batchnorm2d", dict(name="bn1")),
        ("relu", dict(name="relu1")),
        ("conv2d", dict(name="conv2", params={"out_channels": 8, "kernel_size": 3, "padding": 1, "bias": False})),
        ("batchnorm2d", dict(name="bn2")),
    )
    add = g.add_block("add", name="add")
    g.connect(b2.id, "out", add.id, "in1")
    targets_planes = [(c1.id, "out_channels"), (c2.id, "out_channels")]
    targets_stride = [(c1.id, "stride")]
    if downsample:
        ds, dbn = chain(
            g,
            ("conv2d", dict(name="downsample", params={"out_channels": 8, "kernel_size": 1, "padding": 0, "bias": False})),
            ("batchnorm2d", dict(name="downsample_bn")),
        )
        g.connect(x.id, "out", ds.id, "in")
        g.connect(dbn.id, "out", add.id, "in2")
        targets_planes.append((ds.id, "out_channels"))
        targets_stride.append((ds.id, "stride"))
    else:
        g.connect(x.id, "out", add.id, "in2")
    relu, out = chain(g, ("relu", dict(name="relu2")), ("output", dict(name="out")))
    g.connect(add.id, "out", relu.id, "in")
    d.params["planes"] = DefinitionParam("planes", tuple(targets_planes))
    d.params["stride"] = DefinitionParam("stride", tuple(targets_stride))
    return d


def small_resnet():
    """Input 3x32x32 -> stem -> 2 residual units (repeat) -> a downsampling unit -> a unit ->
    pool -> linear: two definitions, four uses, one repeated."""
    g = Graph()
    residual_unit(g.library)
    residual_unit(g.library, "DownUnit", downsample=True)
    chain(
        g,
        ("input", dict(name="images", params={"shape": [3, 32, 32]})),
        ("conv2d", dict(name="stem", params={"out_channels": 8, "kernel_size": 3, "padding": 1})),
        ("module:ResidualUnit", dict(name="layer1", params={"repeat": 2, "planes": 8})),
        ("module:DownUnit", dict(name="layer2", params={"planes": 16, "stride": 2})),
        ("module:ResidualUnit", dict(name="layer3", params={"planes": 16})),
        ("adaptive_avgpool2d", dict(name="pool", params={"output_size": 1})),
        ("flatten", dict(name="flatten")),
        ("linear", dict(name="head", params={"out_features": 4})),
        ("output", dict(name="logits")),
    )
    return g
