"""Hostile input against the surfaces #23 hardened: module definitions, text data, Function
calls, output paths and concurrent runs. Prints, per surface, the cases tried, the tracebacks
(any exception other than the surface's one-line error), hangs and files lost; the last line
is the total. ``tests/graph/test_fuzz_surfaces.py`` runs a small seeded share (marked slow).

    python tools/fuzz_surfaces.py [--seed S] [--scale K]

"Lost" means: a file that existed before a refused or failed write no longer holds its old
bytes, a symbolic link stopped being a link, a device or FIFO was replaced, or a run folder
was written by two runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import stat
import sys
import tempfile
import threading
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from load_definitions import many, nested  # noqa: E402


class Tally:
    def __init__(self) -> None:
        self.counts: dict[str, Counter] = {}
        self.examples: list[str] = []

    def add(self, surface: str, outcome: str, detail: str = "") -> None:
        self.counts.setdefault(surface, Counter())[outcome] += 1
        if outcome in ("traceback", "hang", "lost") and len(self.examples) < 20:
            self.examples.append(f"{surface}: {outcome}: {detail[:400]}")

    def report(self) -> int:
        bad_total = n_total = 0
        for surface, c in self.counts.items():
            n = sum(c.values())
            bad = c["traceback"] + c["hang"] + c["lost"]
            n_total, bad_total = n_total + n, bad_total + bad
            print(
                f"{surface:<16} {n:>5} cases: {c['ok']} accepted, {c['refused']} refused in one line, "
                f"{c['traceback']} tracebacks, {c['hang']} hangs, {c['lost']} lost"
            )
        for e in self.examples:
            print("  " + e)
        print(f"fuzz_surfaces: {n_total} cases, {bad_total} tracebacks/hangs/losses")
        return bad_total


def within(seconds: float, fn):
    """('value', v) | ('error', exc, tb) | ('hang',) running fn in a daemon thread."""
    out: list = []

    def run():
        try:
            out.append(("value", fn()))
        except BaseException as e:  # noqa: BLE001
            out.append(("error", e, traceback.format_exc()))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    return out[0] if out else ("hang",)


# ------------------------------------------------------------------------------- definitions
def definition_cases(rng: random.Random, scale: int, tmp: Path):
    fifo = tmp / "weights.fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    weights = [
        "",
        "/dev/zero",
        str(fifo),
        str(tmp),
        str(tmp / "missing.pt"),
        "64",
        "a\0b",
        "~/x.pt",
        "x" * 5000,
        "../../../etc/passwd",
    ]
    for _ in range(40 * scale):
        kind = rng.choice(["nested", "many", "cycle", "param", "weights", "repeat", "mutate"])
        if kind == "nested":
            data = nested(rng.choice([1, 2, 31, 32, 33, 64, 200, 1000]))
        elif kind == "many":
            data = many(rng.choice([1, 10, 500, 2000]))
        elif kind == "cycle":
            data = nested(rng.randint(1, 50))
            last = data["graph"]["modules"][-1]["graph"]
            last["blocks"].append(
                {
                    "id": "c",
                    "type": f"module:M{rng.randrange(len(data['graph']['modules']))}",
                    "name": "back",
                }
            )
        elif kind == "param":
            data = many(2)
            data["graph"]["modules"][0]["params"] = [
                {
                    "name": rng.choice(["weights", "repeat", "planes", "", "1x", "a" * 60, None]),
                    "targets": rng.choice(
                        [[["l", "out_features"]], [["zz", "out_features"]], [], "x"]
                    ),
                }
            ]
        elif kind == "weights":
            data = many(2)
            data["graph"]["blocks"][1]["params"] = {"weights": rng.choice(weights)}
        elif kind == "repeat":
            data = nested(rng.randint(1, 4))
            for b in data["graph"]["blocks"]:
                if b["type"].startswith("module:"):
                    b["params"] = {
                        "repeat": rng.choice([0, 1, 2, 256, 257, -1, 10**9, "x", 2.5, True])
                    }
        else:
            data = nested(rng.randint(1, 5))
            mod = rng.choice(data["graph"]["modules"])
            mod[rng.choice(["name", "graph", "params", "sequential"])] = rng.choice(
                [None, 1, "", "M0", [], {}, "9bad", "x" * 100, True]
            )
        yield kind, data


def fuzz_definitions(tally: Tally, rng: random.Random, scale: int, tmp: Path) -> None:
    from studio.compiler import analyze
    from studio.graph.project import ProjectError, loads
    from studio.training.fit_check import weights_file_problems

    for kind, data in definition_cases(rng, scale, tmp):

        def case(data=data):
            try:
                project = loads(json.dumps(data).encode(), "p")
            except ProjectError as e:
                return "refused" if "\n" not in str(e) else f"multi-line: {e}"
            analyze(project.graph)
            weights_file_problems(project.graph, tmp)
            return "ok"

        _outcome(tally, "definitions", kind, within(120, case))


def _outcome(tally: Tally, surface: str, kind: str, got) -> None:
    if got[0] == "hang":
        tally.add(surface, "hang", kind)
    elif got[0] == "error":
        tally.add(surface, "traceback", f"{kind}: {got[2].splitlines()[-1]}")
    elif isinstance(got[1], str) and got[1].startswith("multi-line"):
        tally.add(surface, "traceback", f"{kind}: {got[1]}")
    else:
        tally.add(surface, got[1] if got[1] in ("ok", "refused") else "ok")


# ------------------------------------------------------------------------------- text data
def fuzz_text(tally: Tally, rng: random.Random, scale: int, tmp: Path) -> None:
    from studio.training import TrainingSettings, load_data
    from studio.training.datasets import DatasetError
    from studio.training.fit_check import read_signature

    fifo = tmp / "data.fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    files = {
        "empty": b"",
        "latin1": "café".encode("latin-1"),
        "short": b"ab",
        "bom": "\ufeffhello world ".encode() * 50,
        "nul": b"\0" * 500,
        "mixed": "ab\u00e9\U0001f600\r\n".encode() * 200,
        "csv": b"text,label\nhi,1\nyo,0\n" * 30,
        "csvbad": b'text,label\n"unclosed,1\n',
        "csvwide": b"a,b\n" + b"x," * 5000 + b"\n",
    }
    paths = ["/dev/zero", "/dev/null", str(fifo), str(tmp), str(tmp / "missing.txt"), "a\0b", ""]
    for name, content in files.items():
        p = tmp / f"{name}.txt"
        p.write_bytes(content)
        paths.append(str(p))
    for _ in range(30 * scale):
        kind = rng.choice(["text", "text_csv"])
        data = {"kind": kind, "path": rng.choice(paths)}
        if kind == "text":
            data.update(
                tokenizer=rng.choice(["char", "byte"]),
                block_size=rng.choice([1, 8, 64, 10**6]),
                stride=rng.choice([1, 4, 64]),
            )
            if rng.random() < 0.3:
                data["vocab"] = rng.choice(["ab", "abcdefghijklmnopqrstuvwxyz ", "", "\0"])
        else:
            data.update(
                text=rng.choice(["text", 0, 5, "nope"]),
                target=rng.choice(["label", 1, -1, "x"]),
                length=rng.choice([1, 16, 65536]),
                tokenizer=rng.choice(["char", "byte"]),
            )
        loss = "next_token" if kind == "text" else "cross_entropy"

        def case(data=data, loss=loss):
            settings = TrainingSettings.from_dict(
                {"data": data, "loss": {"name": loss}, "val_split": 0.2}
            )
            if settings.validate():
                return "refused"
            sig = read_signature(settings.data, tmp)
            try:
                load_data(settings, base_dir=tmp)
            except DatasetError as e:
                return "refused" if "\n" not in str(e) else f"multi-line: {e}"
            return "refused" if isinstance(sig, str) else "ok"

        _outcome(tally, "text data", f"{kind} {data.get('path')!r}", within(120, case))


# ------------------------------------------------------------------------------- Function calls
CALLS = [
    ("torch.kron", "in1, in1"),
    ("torch.full_like", "in1, 1e308"),
    ("torch.zeros", "10**12"),
    ("torch.ones", "(2**62, 2**62)"),
    ("F.interpolate", "in1.unsqueeze(1), scale_factor=10**6"),
    ("torch.cat", "[in1] * 10**7"),
    ("torch.flatten", "in1, 5"),
    ("torch.reshape", "in1, (-1, -1)"),
    ("__import__", "'os'"),
    ("eval", "'1'"),
    ("torch.load", "'/dev/zero'"),
    ("open", "'/dev/zero'"),
    ("torch.matmul", "in1, in1"),
    ("torch.einsum", "'ij,jk->ik', in1, in1"),
    ("torch.arange", "10**15"),
    ("torch.repeat_interleave", "in1, 10**9, dim=1"),
    ("torch.tile", "in1, (1, 10**9)"),
    ("in1.expand", "2**40, -1"),
    ("torch.softmax", "in1, dim=7"),
    ("torch.nn.functional.pad", "in1, (10**9, 0)"),
    ("torch.randn", "in1.shape[0], 10**10"),
    ("torch.exp", "in1 * 1e308"),
    ("torch.linalg.inv", "in1"),
]


def fuzz_functions(tally: Tally, rng: random.Random, scale: int, tmp: Path) -> None:
    from studio.compiler import analyze
    from studio.graph.model import Graph
    from studio.graph.project import Project, ProjectError, save_project
    from studio.interop.exporters import ExportError, export_project

    for i in range(len(CALLS) * max(1, scale // 2)):
        fn, args = CALLS[i % len(CALLS)]
        if i >= len(CALLS):
            args = args.replace("in1", rng.choice(["in1", "in1.T", "in1[0]", "in1 * 0"]))

        def case(fn=fn, args=args):
            g = Graph()
            x = g.add_block("input", name="x", params={"shape": [4]})
            try:
                f = g.add_block("function", name="f", params={"function": fn, "arguments": args})
            except Exception as e:  # noqa: BLE001 - the declaration refusing a value is its message
                from studio.blocks.params import ParamError
                from studio.graph.errors import GraphError

                if isinstance(e, (ParamError, GraphError)):
                    return "refused"
                raise
            o = g.add_block("output", name="y")
            g.connect(x.id, "out", f.id, f.input_ports()[0].name)
            g.connect(f.id, "out", o.id, "in")
            analysis = analyze(g)
            path = save_project(Project(name="fn", graph=g), tmp / "fn.studio.json")
            if analysis.errors:
                return "refused"
            try:
                for fmt in ("python", "weights"):
                    export_project(Project(name="fn", graph=g, path=path), fmt, tmp / f"fn.{fmt}")
            except (ExportError, ProjectError) as e:
                return "refused" if "\n" not in str(e) else f"multi-line: {e}"
            return "ok"

        _outcome(tally, "function calls", f"{fn}({args})", within(180, case))


# ------------------------------------------------------------------------------- output paths
def fuzz_paths(tally: Tally, rng: random.Random, scale: int, tmp: Path) -> None:
    from studio.graph.project import ProjectError, save_project
    from studio.interop.exporters import ExportError, export_project
    from studio.ui.settings import write_atomic as autosave_write

    example = ROOT / "resources" / "examples" / "mlp_classifier.studio.json"
    from studio.graph.project import load_project

    proj = load_project(example)
    for _ in range(30 * scale):
        case_dir = Path(tempfile.mkdtemp(dir=tmp))
        (case_dir / "old.txt").write_text("OLD")
        kind = rng.choice(
            [
                "plain",
                "existing",
                "link",
                "link-chain",
                "dangling",
                "loop",
                "dir",
                "fifo",
                "device",
                "empty",
                "nul",
                "long",
                "nested",
                "link-to-dir",
                "link-to-dev",
                "space",
            ]
        )
        path = case_dir / "out.file"
        if kind == "existing":
            path = case_dir / "old.txt"
        elif kind == "link":
            path.symlink_to(case_dir / "old.txt")
        elif kind == "link-chain":
            (case_dir / "mid").symlink_to("old.txt")
            path.symlink_to(case_dir / "mid")
        elif kind == "dangling":
            path.symlink_to(case_dir / "nowhere" / "x")
        elif kind == "loop":
            path.symlink_to(case_dir / "loop2")
            (case_dir / "loop2").symlink_to(path)
        elif kind == "dir":
            path.mkdir()
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind in ("device", "link-to-dev"):
            dev = case_dir / "null"
            if os.geteuid() == 0:
                os.mknod(dev, 0o666 | stat.S_IFCHR, os.stat("/dev/null").st_rdev)
            else:
                dev = Path("/dev/null")
            if kind == "device":
                path = dev
            else:
                path.symlink_to(dev)
        elif kind == "empty":
            path = ""
        elif kind == "nul":
            path = str(case_dir / "a\0b")
        elif kind == "long":
            path = case_dir / ("n" * 300)
        elif kind == "nested":
            path = case_dir / "a" / "b" / "c" / "out.file"
        elif kind == "link-to-dir":
            (case_dir / "d").mkdir()
            path.symlink_to(case_dir / "d")
        elif kind == "space":
            path = case_dir / " "
        before = _snapshot(case_dir)
        writer = rng.choice(["save", "autosave", "python", "script", "weights", "onnx"])

        def case(writer=writer, path=path):
            try:
                if writer == "save":
                    save_project(proj, path)
                elif writer == "autosave":
                    autosave_write(Path(path), "{}")
                else:
                    export_project(proj, writer, path)
            except (ProjectError, ExportError, OSError) as e:
                return "refused" if "\n" not in str(e) else f"multi-line: {e}"
            return "ok"

        got = within(180, case)
        lost = _lost(before, _snapshot(case_dir), accepted=got[0] == "value" and got[1] == "ok")
        if lost:
            tally.add("output paths", "lost", f"{kind} via {writer}: {lost}")
        else:
            _outcome(tally, "output paths", f"{kind} via {writer}", got)


def _snapshot(folder: Path) -> dict:
    out = {}
    for p in folder.rglob("*"):
        st = os.lstat(p)
        content = p.read_bytes() if stat.S_ISREG(st.st_mode) and st.st_size < 10**7 else None
        out[str(p)] = (
            stat.S_IFMT(st.st_mode),
            st.st_ino,
            os.readlink(p) if p.is_symlink() else None,
            content,
        )
    return out


def _lost(before: dict, after: dict, accepted: bool) -> str:
    """What changed that should not have: a link that stopped being one, a special file
    replaced, a regular file changed by a refused write, anything gone."""
    for name, (kind, ino, link, content) in before.items():
        if name not in after:
            return f"{name} is gone"
        k2, ino2, link2, content2 = after[name]
        if link is not None and link2 != link:
            return f"{name} was a link and is not now"
        if kind not in (stat.S_IFREG, stat.S_IFLNK, stat.S_IFDIR) and (k2, ino2) != (kind, ino):
            return f"{name} (a special file) was replaced"
        if kind == stat.S_IFREG and not accepted and content2 != content:
            return f"{name} changed though the write was refused"
    leftovers = [n for n in after if n not in before and n.endswith(".tmp")]
    return f"temporary files left: {leftovers}" if leftovers else ""


# ------------------------------------------------------------------------------- concurrent runs
HOLDER = """
import sys, time, os
from studio.training.run_lock import RunFolderBusy, RunLock
folder = sys.argv[1]
sys.stdout.write("go\\n"); sys.stdout.flush()
sys.stdin.readline()
try:
    with RunLock.acquire(folder, "fuzz %d" % os.getpid()):
        with open(os.path.join(folder, "owner.txt"), "a") as f:
            f.write("%d start\\n" % os.getpid())
        time.sleep(float(sys.argv[2]))
        with open(os.path.join(folder, "owner.txt"), "a") as f:
            f.write("%d end\\n" % os.getpid())
    print("ran")
except RunFolderBusy as e:
    print("busy: " + str(e))
"""


def fuzz_runs(tally: Tally, rng: random.Random, scale: int, tmp: Path) -> None:
    """Several processes start a run into one folder at the same instant: the runs that write
    never overlap (the owner log never shows two starts in a row) and each other one gets one
    line naming the holder."""
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for i in range(3 * scale):
        folder = tmp / f"run{i}"
        n = rng.randint(2, 5)
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", HOLDER, str(folder), "1.5"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(n)
        ]
        for p in procs:
            p.stdout.readline()
        for p in procs:  # all released together
            p.stdin.write("\n")
            p.stdin.flush()
        outs = []
        for p in procs:
            try:
                outs.append(p.communicate(timeout=300)[0].strip())
            except subprocess.TimeoutExpired:
                p.kill()
                outs.append("hang")
        log = (
            (folder / "owner.txt").read_text().split("\n")
            if (folder / "owner.txt").exists()
            else []
        )
        events = [line.split()[1] for line in log if line]
        overlap = any(a == b == "start" for a, b in zip(events, events[1:]))
        ran = sum(o == "ran" for o in outs)
        busy = [o for o in outs if o.startswith("busy: ")]
        if "hang" in outs:
            tally.add("concurrent runs", "hang", str(outs))
        elif overlap or ran < 1 or ran + len(busy) != n or any("fuzz " not in b for b in busy):
            tally.add("concurrent runs", "lost", f"{outs} {events}")
        else:
            tally.add("concurrent runs", "ok" if ran == n else "refused")


SURFACES = {
    "definitions": fuzz_definitions,
    "text": fuzz_text,
    "functions": fuzz_functions,
    "paths": fuzz_paths,
    "runs": fuzz_runs,
}


def run(seed: int = 0, scale: int = 1, surfaces=tuple(SURFACES)) -> Tally:
    import warnings

    warnings.simplefilter("ignore")
    tally = Tally()
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        for name in surfaces:
            SURFACES[name](tally, rng, scale, Path(tmp))
    return tally


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=int, default=1, help="multiplies the number of cases")
    parser.add_argument("--only", nargs="*", choices=list(SURFACES), default=list(SURFACES))
    args = parser.parse_args(argv)
    return 1 if run(args.seed, args.scale, args.only).report() else 0


if __name__ == "__main__":
    raise SystemExit(main())
