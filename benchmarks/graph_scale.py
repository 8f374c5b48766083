"""Scale of the pure model + compiler: graphs of 100, 1,000 and 5,000 blocks (``--blocks``).

Measures, per size, full shape inference (cold cache), and each kind of edit with the refresh
after it (shapes and problems: only what the edit changed is checked again): one parameter edit
near the input (``edit``); a wire from the middle of the graph to a second Output added and
removed (``wire``, the mean of the two: it changes its two ends); adding a block wired into the
middle of the graph (``add``: the block and its wire) and removing it again (``remove``); then
code generation. Two wire edits that change much more are printed beside them, as the cost of
what they change: the only Output's wire removed and put back (``wire_out``: every block's "leads
to no Output" warning comes and goes) and a wire in the middle of the chain (``wire_mid``: every
shape below it becomes unknown and comes back, 7 times a graph, the median: under load one
preemption is several of these edits; its two halves are printed too: putting it back
restores what the removal overwrote, and removing it again restores what the put back
overwrote; the first removal of it in a graph, ``wire_mid_first_remove``, makes every block
below unknown). Put back after another edit (a block added between, so not the inverse of the
last refresh): ``wire_mid_again`` and ``wire_out_again``. With a second Output fed near the
Input (``wire_out2_top``: every block below it stops leading to an Output) or from the middle
(``wire_out2_mid``), the first Output's wire removed and put back. One line per size; the last
line is the largest size, then each edit at the smaller sizes:
``blocks=5000 infer_s=<float> edit_ms=<float> wire_ms=<float> add_ms=<float> remove_ms=<float>
wire_out_ms=<float> wire_mid_ms=<float> wire_out2_top_ms=<float> wire_out2_mid_ms=<float>
wire_mid_remove_ms=<float> wire_mid_restore_ms=<float> wire_mid_first_remove_ms=<float>
wire_mid_again_ms=<float> wire_out_again_ms=<float> codegen_s=<float> edit_ms_100=... (each,
and _1000)``

``--modules`` measures the same with the 2,000 blocks inside 50 uses of 5 module definitions
(40 blocks each, with a per-use ``width``; the edit is one parameter inside a definition, so
every use of it is analysed again). Last line: ``blocks_in_uses=2000 uses=50 infer_s=...
edit_ms=... codegen_s=...``
"""

from __future__ import annotations

import argparse
import statistics
import time

from studio.compiler import Analysis, generate
from studio.compiler.shapes import clear_cache
from studio.graph.model import Graph


def build(n_blocks: int) -> tuple[Graph, str]:
    g = Graph()
    x = g.add_block("input", params={"shape": [64]})
    first = g.add_block("linear", params={"out_features": 128})
    act = g.add_block("relu")
    back = g.add_block("linear", params={"out_features": 64})
    for a, b in ((x, first), (first, act), (act, back)):
        g.connect(a.id, "out", b.id, "in")
    prev = back
    unit = 0
    kinds = ["gelu", "silu", "tanh", "relu", "sigmoid", "mish", "hardswish", "elu"]
    while len(g) + 14 < n_blocks - 1:
        unit += 1
        width = 64 + 16 * (unit % 4)  # several distinct layer sizes, as in real models
        fc1 = g.add_block("linear", params={"out_features": width})
        bn = g.add_block("batchnorm1d")
        a1 = g.add_block(kinds[unit % len(kinds)])
        drop = g.add_block("dropout", params={"p": 0.1})
        fc2 = g.add_block("linear", params={"out_features": 64})
        scale = g.add_block("parameter", params={"shape": [1, 64], "init": "ones"})
        mul = g.add_block("multiply")
        add = g.add_block("add")
        norm = g.add_block("layernorm")
        for a, b in ((prev, fc1), (fc1, bn), (bn, a1), (a1, drop), (drop, fc2), (norm, norm)):
            if a is not b:
                g.connect(a.id, "out", b.id, "in")
        g.connect(fc2.id, "out", mul.id, "in1")
        g.connect(scale.id, "out", mul.id, "in2")
        g.connect(mul.id, "out", add.id, "in1")
        g.connect(prev.id, "out", add.id, "in2")
        g.connect(add.id, "out", norm.id, "in")
        prev = norm
        if unit % 5 == 0:
            side = g.add_block("linear", params={"out_features": 32})
            side2 = g.add_block("linear", params={"out_features": 32})
            cat = g.add_block("concatenate")
            g.connect(prev.id, "out", side.id, "in")
            g.connect(prev.id, "out", side2.id, "in")
            g.connect(side.id, "out", cat.id, "in1")
            g.connect(side2.id, "out", cat.id, "in2")
            prev = cat
            fix = g.add_block("linear", params={"out_features": 64})
            g.connect(prev.id, "out", fix.id, "in")
            prev = fix
    while len(g) < n_blocks - 1:
        extra = g.add_block("identity")
        g.connect(prev.id, "out", extra.id, "in")
        prev = extra
    out = g.add_block("output")
    g.connect(prev.id, "out", out.id, "in")
    return g, first.id


def build_modules(n_defs: int = 5, n_uses: int = 50, per_def: int = 40) -> tuple[Graph, str, str]:
    """``n_uses`` uses of ``n_defs`` definitions of ``per_def`` blocks each, in a chain; returns
    the graph, a definition's name and the id of a block inside it to edit."""
    from studio.graph.modules import DefinitionParam

    g = Graph()
    kinds = ["gelu", "silu", "tanh", "relu", "sigmoid", "mish", "hardswish", "elu"]
    edit = ""
    for k in range(n_defs):
        d = g.library.new(f"Unit{k}")
        m = d.graph
        prev = m.add_block("input", name="x", params={"shape": [64]})
        first = None
        while len(m) + 6 < per_def:
            fc1 = m.add_block("linear", params={"out_features": 96})
            first = first or fc1
            bn = m.add_block("batchnorm1d")
            act = m.add_block(kinds[(k + len(m)) % len(kinds)])
            fc2 = m.add_block("linear", params={"out_features": 64})
            add = m.add_block("add")
            norm = m.add_block("layernorm")
            for a, b in ((prev, fc1), (fc1, bn), (bn, act), (act, fc2)):
                m.connect(a.id, "out", b.id, "in")
            m.connect(fc2.id, "out", add.id, "in1")
            m.connect(prev.id, "out", add.id, "in2")
            m.connect(add.id, "out", norm.id, "in")
            prev = norm
        while len(m) < per_def - 1:
            extra = m.add_block("identity")
            m.connect(prev.id, "out", extra.id, "in")
            prev = extra
        out = m.add_block("output", name="y")
        m.connect(prev.id, "out", out.id, "in")
        d.params["width"] = DefinitionParam("width", ((first.id, "out_features"),))
        edit = edit or fc1.id  # a layer the per-use width does not set
    prev, port = g.add_block("input", params={"shape": [64]}), "out"
    for u in range(n_uses):
        use = g.add_block(f"module:Unit{u % n_defs}", params={"width": 64 + 16 * (u % 3)})
        g.connect(prev.id, port, use.id, "x")
        prev, port = use, "y"
    out = g.add_block("output")
    g.connect(prev.id, port, out.id, "in")
    return g, "Unit0", edit


def modules_main(repeat: int) -> None:
    infer, edit, codegen = [], [], []
    for _ in range(repeat):
        g, name, inner = build_modules()
        clear_cache()
        t0 = time.perf_counter()
        analysis = Analysis(g)
        infer.append(time.perf_counter() - t0)
        assert analysis.ok, [d.message for d in analysis.errors][:3]
        body = g.library.get(name).graph
        for width in (80, 112, 128):
            t0 = time.perf_counter()
            body.set_params(inner, {"out_features": width})
            analysis.refresh()
            edit.append((time.perf_counter() - t0) * 1000)
        assert analysis.ok
        t0 = time.perf_counter()
        code = generate(g, "Scale test", analysis)
        codegen.append(time.perf_counter() - t0)
        analysis.close()
    inside = sum(
        len(g.library.get(b.type.split(":", 1)[1]).graph) for b in g if b.type.startswith("module:")
    )
    print(
        f"classes: {code.source.count('(nn.Module):')}; source: {len(code.source.splitlines())} lines"
    )
    print(
        f"blocks_in_uses={inside} uses={sum(b.type.startswith('module:') for b in g)} "
        f"infer_s={statistics.median(infer):.3f} edit_ms={statistics.median(edit):.1f} "
        f"codegen_s={statistics.median(codegen):.3f}"
    )


class _NoMemo(dict):
    def __setitem__(self, key, value) -> None:
        pass

    def move_to_end(self, key) -> None:
        pass


def measure(n_blocks: int, repeat: int) -> dict:
    """Median seconds of full inference, milliseconds of each kind of edit with the refresh after
    it, seconds of codegen."""
    infer, edit, wire, add, remove, codegen = [], [], [], [], [], []
    wire_out, wire_mid, mid_remove, mid_restore, mid_again = [], [], [], [], []
    mid_first, out_again, out2_top, out2_mid = [], [], [], []
    for _ in range(repeat):
        g, first = build(n_blocks)
        clear_cache()
        t0 = time.perf_counter()
        analysis = Analysis(g)
        infer.append(time.perf_counter() - t0)
        assert analysis.ok, [d.message for d in analysis.errors][:3]
        for width in (96, 112, 128):
            t0 = time.perf_counter()
            g.set_params(first, {"out_features": width})
            changed = analysis.refresh()
            edit.append((time.perf_counter() - t0) * 1000)
        out = next(b for b in g.blocks.values() if b.type == "output")
        ids = list(g.blocks)
        middle = g.blocks[ids[len(ids) // 2]]
        for into, times in (
            (g.edge_into(out.id, "in"), wire_out),
            (g.wires_into(middle.id)[0], wire_mid),
        ):
            for _ in range(7):
                t0 = time.perf_counter()
                g.disconnect(into.id)
                analysis.refresh()
                t1 = time.perf_counter()
                g.insert_edge(into)
                analysis.refresh()
                t2 = time.perf_counter()
                times.append((t2 - t0) * 1000 / 2)
                if times is wire_mid:
                    mid_remove.append((t1 - t0) * 1000)
                    mid_restore.append((t2 - t1) * 1000)
                    if len(mid_remove) % 7 == 1:
                        mid_first.append(mid_remove[-1])
        for into, times in (
            (g.wires_into(middle.id)[0], mid_again),
            (g.edge_into(out.id, "in"), out_again),
        ):
            for _ in range(3):  # put back after another edit: not the inverse of the last refresh
                g.disconnect(into.id)
                analysis.refresh()
                other = g.add_block("relu")
                analysis.refresh()
                t0 = time.perf_counter()
                g.insert_edge(into)
                analysis.refresh()
                times.append((time.perf_counter() - t0) * 1000)
                g.remove_block(other.id)
                analysis.refresh()
        into = g.edge_into(out.id, "in")
        for feed, times in ((first, out2_top), (middle.id, out2_mid)):  # two Outputs
            second = g.add_block("output")
            g.connect(feed, "out", second.id, "in")
            analysis.refresh()
            for _ in range(7):
                t0 = time.perf_counter()
                g.disconnect(into.id)
                analysis.refresh()
                g.insert_edge(into)
                analysis.refresh()
                times.append((time.perf_counter() - t0) * 1000 / 2)
            g.remove_block(second.id)
            analysis.refresh()
        second = g.add_block("output")
        analysis.refresh()
        for _ in range(3):
            t0 = time.perf_counter()
            e = g.connect(middle.id, "out", second.id, "in")
            analysis.refresh()
            g.disconnect(e.id)
            analysis.refresh()
            wire.append((time.perf_counter() - t0) * 1000 / 2)
        g.remove_block(second.id)
        analysis.refresh()
        assert analysis.ok
        for _ in range(3):
            t0 = time.perf_counter()
            block = g.add_block("relu")
            g.connect(middle.id, "out", block.id, "in")
            analysis.refresh()
            t1 = time.perf_counter()
            g.remove_block(block.id)
            analysis.refresh()
            add.append((t1 - t0) * 1000)
            remove.append((time.perf_counter() - t1) * 1000)
        assert analysis.ok
        t0 = time.perf_counter()
        code = generate(g, "Scale test", analysis)
        codegen.append(time.perf_counter() - t0)
        analysis.close()
    return {
        "blocks": len(g),
        "infer_s": statistics.median(infer),
        "edit_ms": statistics.median(edit),
        "wire_ms": statistics.median(wire),
        "add_ms": statistics.median(add),
        "remove_ms": statistics.median(remove),
        "wire_out_ms": statistics.median(wire_out),
        "wire_mid_ms": statistics.median(wire_mid),
        "mid_remove_ms": statistics.median(mid_remove),
        "mid_restore_ms": statistics.median(mid_restore),
        "mid_again_ms": statistics.median(mid_again),
        "mid_first_ms": statistics.median(mid_first),
        "out_again_ms": statistics.median(out_again),
        "wire_out2_top_ms": statistics.median(out2_top),
        "wire_out2_mid_ms": statistics.median(out2_mid),
        "codegen_s": statistics.median(codegen),
        "changed": len(changed),
        "lines": len(code.source.splitlines()),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", default="100,1000,5000", help="graph sizes, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--modules", action="store_true", help="2,000 blocks inside 50 uses of 5 definitions"
    )
    parser.add_argument(
        "--unshared",
        type=int,
        default=1000,
        help="blocks of the no-shared-evaluations run (0: skip)",
    )
    args = parser.parse_args()
    import torch  # imported before timing: the GUI imports it once, in the background

    torch.empty(1)
    if args.modules:
        modules_main(args.repeat)
        return
    sizes = [int(n) for n in args.blocks.split(",")]
    measure(30, 1)  # the first evaluation of each layer type pays torch's own warm-up
    results = []
    for n in sizes:
        r = measure(n, args.repeat)
        results.append(r)
        print(
            f"  {r['blocks']:>6} blocks: infer {r['infer_s']:.3f} s, parameter edit {r['edit_ms']:.2f} ms "
            f"({r['changed']} blocks re-evaluated), wire edit {r['wire_ms']:.2f} ms, add a block "
            f"{r['add_ms']:.2f} ms, remove it {r['remove_ms']:.2f} ms; the Output's wire {r['wire_out_ms']:.2f} ms, "
            f"a wire mid-chain {r['wire_mid_ms']:.2f} ms (removed {r['mid_remove_ms']:.2f}, put back "
            f"{r['mid_restore_ms']:.2f}, first removed {r['mid_first_ms']:.2f}, put back after "
            f"another edit {r['mid_again_ms']:.2f}, the Output's {r['out_again_ms']:.2f}); "
            f"the Output's wire with a second Output near the Input {r['wire_out2_top_ms']:.2f} "
            f"ms, mid-chain {r['wire_out2_mid_ms']:.2f} ms; "
            f"codegen {r['codegen_s']:.3f} s "
            f"({r['lines']} lines)",
            flush=True,
        )
    if args.unshared:  # the worst case: no two blocks share a cached evaluation
        g, _ = build(args.unshared)
        clear_cache()
        import studio.compiler.shapes as shapes

        real_memo, shapes._memo = shapes._memo, _NoMemo()
        t0 = time.perf_counter()
        Analysis(g, listen=False)
        unshared = time.perf_counter() - t0
        shapes._memo = real_memo
        print(f"full inference of {len(g)} blocks with no shared evaluations: {unshared:.3f} s")
    kinds = (
        "edit",
        "wire",
        "add",
        "remove",
        "wire_out",
        "wire_mid",
        "wire_out2_top",
        "wire_out2_mid",
    )
    small = " ".join(
        f"{k}_ms_{r['blocks']}={r[k + '_ms']:.2f}" for r in results[:-1] for k in kinds
    )
    r = results[-1]
    print(
        f"blocks={r['blocks']} infer_s={r['infer_s']:.3f} "
        + " ".join(f"{k}_ms={r[k + '_ms']:.2f}" for k in kinds)
        + f" wire_mid_remove_ms={r['mid_remove_ms']:.2f} wire_mid_restore_ms={r['mid_restore_ms']:.2f}"
        + f" wire_mid_first_remove_ms={r['mid_first_ms']:.2f}"
        + f" wire_mid_again_ms={r['mid_again_ms']:.2f} wire_out_again_ms={r['out_again_ms']:.2f}"
        + f" codegen_s={r['codegen_s']:.3f} {small}".rstrip()
    )


if __name__ == "__main__":
    main()
