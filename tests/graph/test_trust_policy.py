"""studio.trust: the policy object, the allow-list and importing a module by name."""

from __future__ import annotations

import sys

import pytest

from studio import trust
from studio.trust import TrustPolicy, UntrustedCode, import_module


def test_the_policy_allows_torch_and_torchvision_and_what_the_user_trusted(tmp_path):
    p = TrustPolicy()
    assert p.allows("torch.nn") and p.allows("torchvision.models") and p.allows("torchvision.ops")
    for name in ("os", "subprocess", "antigravity", "this", "torchvision_evil", "torch._C", "torch.__main__"):
        assert not p.allows(name), name
    f = tmp_path / "m.py"
    assert not p.allows(str(f))
    q = p.with_source(str(f))
    assert q.allows(str(f)) and not p.allows(str(f))  # immutable: a new policy
    assert TrustPolicy(everything=True).allows("os")
    assert q.decisions([str(f), "os"]) == (True, False)


def test_an_untrusted_module_is_not_imported(tmp_path, monkeypatch):
    (tmp_path / "canary_policy_mod.py").write_text("raise SystemExit('imported!')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UntrustedCode, match="until you trust it"):
        import_module("canary_policy_mod")
    assert "canary_policy_mod" not in sys.modules


@pytest.mark.parametrize("layout", ["module", "package"])
def test_an_allow_listed_name_shadowed_in_the_working_folder_is_refused(tmp_path, monkeypatch, layout):
    """A fake top-level package found in the working folder is never taken for the real one."""
    name = "torchvision"
    monkeypatch.chdir(tmp_path)
    if layout == "module":
        (tmp_path / f"{name}.py").write_text("")
    else:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    fake = type(sys)("torchvision")  # as if it had been imported from there earlier
    fake.__file__ = str(tmp_path / (f"{name}.py" if layout == "module" else f"{name}/__init__.py"))
    monkeypatch.setitem(sys.modules, name, fake)  # the real one is put back afterwards
    with pytest.raises(UntrustedCode, match="working folder"):
        import_module(name)


def test_the_working_folder_is_off_the_path_while_importing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend("")
    seen = []
    real = trust.importlib.import_module
    monkeypatch.setattr(trust.importlib, "import_module", lambda n: seen.append(list(sys.path)) or real(n))
    import_module("torch.nn")
    assert seen and "" not in seen[0] and str(tmp_path) not in seen[0]
    assert "" in sys.path  # put back afterwards
