"""The jail description of a one-shot call (pycontain.fn.oneshot.describe): the
steps and their order, which the C executor runs as given."""
import os

import pytest

from pycontain.fn.oneshot import describe
from pycontain.fn.jail import SANDBOX_UID_BASE, JailConfig, jail_context, jail_spec
from pycontain.oci.defaults import MASKED_PATHS, READONLY_PATHS


@pytest.fixture
def setting(tmp_path, monkeypatch):
    """(cfg, context_of(spec)): a single-file handler's, as root would compile it."""
    monkeypatch.setenv("PYCONTAIN_ROOT", str(tmp_path / "store"))
    monkeypatch.setattr(os, "geteuid", lambda: 0)  # the spec as root's (no user namespace)
    handler = tmp_path / "handler.py"
    handler.write_text("def handler(e, c):\n    return e\n")
    cfg = JailConfig(code=str(handler), handler="handler.handler", memory_mb=256, env=["K=V"])
    layers = [str(tmp_path / "store" / "layers" / name) for name in "ab"]
    return cfg, lambda spec: jail_context(spec, str(tmp_path / "store"), layers,
                                          str(tmp_path / "jail"))


@pytest.fixture
def compiled(setting):
    """(spec, ctx, ops) of a call, as fn.oneshot.call compiles it."""
    cfg, context_of = setting
    spec = jail_spec(cfg, "rid", 1234)
    ctx = context_of(spec)
    ctx.die_with_parent = True
    return spec, ctx, describe.compile_jail(spec, ctx)


def codes(ops) -> str:
    return "".join(op[0] for op in ops)


def test_the_steps_come_in_the_order_a_jail_needs(compiled):
    spec, _, ops = compiled
    order = codes(ops)
    assert order[0] == "U" and order[-1] == "E" and order.count("E") == 1
    # the root: private, a volatile tmpfs, the overlay, then what is mounted on it
    assert order.index("p") < order.index("Q") < order.index("o") < order.index("m")
    assert max(order.rindex(c) for c in "mbl") < order.index("P")
    # after the pivot: the old root's unmount (a helper's), the masks, the read-only root
    assert order.index("P") < order.index("Y") < order.index("u") < order.index("Z")
    assert order.rindex("z") < order.index("r") < order.index("H")
    # the lockdown: no_new_privs and seccomp before the capabilities and the user go
    nnp = ops.index(("W", describe.PR_SET_NO_NEW_PRIVS, 1))
    assert nnp < order.index("S") < order.index("B") < order.index("g") < order.index("J")
    assert order.index("J") < order.index("K") < len(ops) - 1


def test_the_rules_come_from_the_spec(compiled):
    spec, _, ops = compiled
    assert [op[1] for op in ops if op[0] == "Z"] == MASKED_PATHS
    assert [op[1] for op in ops if op[0] == "z"] == READONLY_PATHS
    destinations = [op[3] if op[0] == "m" else op[2] for op in ops if op[0] in "mb"]
    assert destinations[:len(spec["mounts"])] == [m["destination"] for m in spec["mounts"]]
    devices = [op[2] for op in ops if op[0] == "b" and op[2].startswith("/dev/")]
    assert devices == [d["path"] for d in spec["linux"]["devices"]]
    assert ("o", os.environ["PYCONTAIN_ROOT"], "layers/b:layers/a", 4) in ops
    assert ("J", SANDBOX_UID_BASE) in ops  # the jail's host pid is added where it is built


def test_the_call_is_not_in_its_description(compiled):
    """The call's own variables come at the go-ahead: a description serves any call."""
    spec, _, ops = compiled
    env = ops[-1][3 + ops[-1][2]:]
    assert "K=V" in env and "_PYCONTAIN_GO_FD=3" in env
    assert not any(e.startswith(("_PYCONTAIN_REQUEST_ID=", "_PYCONTAIN_DEADLINE_MS=",
                                 "AWS_LAMBDA_LOG_STREAM_NAME=")) for e in env)


def death_signals(ops) -> list:
    return [op[2] for op in ops if op[:2] == ("W", describe.PR_SET_PDEATHSIG)]


def death_order(ops) -> list:
    """The ops' codes, "death" for the death signal's."""
    return ["death" if op[:2] == ("W", describe.PR_SET_PDEATHSIG) else op[0] for op in ops]


def test_a_zygotes_base_jail_compiles_from_its_own_spec(setting, compiled):
    """fn serve's zygotes: the same compiler; what differs comes from the spec
    (no /proc masks, its rlimits and command) and the context (no death signal:
    a zygote outlives the worker thread that started it)."""
    import resource

    from pycontain.fn.server.zygote import zygote_spec
    cfg, context_of = setting
    spec = zygote_spec(cfg)[0]
    ops = describe.compile_jail(spec, context_of(spec))
    masks = [op[1] for op in ops if op[0] in "Zz"]
    assert masks == spec["linux"]["maskedPaths"] + spec["linux"]["readonlyPaths"]
    assert not any(path.startswith("/proc/") for path in masks)
    assert [op[1:] for op in ops if op[0] == "R"] == [
        (getattr(resource, r["type"]), r["soft"], r["hard"]) for r in spec["process"]["rlimits"]]
    args = spec["process"]["args"]
    assert ops[-1][:3 + len(args)] == ("E", args[0], len(args), *args)
    assert ("J", SANDBOX_UID_BASE) in ops and ("K", 0, 0, 0) in ops
    assert death_signals(ops) == [0] and death_signals(compiled[2]) == [describe.SIGKILL]
    # disarmed before the seccomp program (which allows SIGKILL only: a call cannot
    # clear it), armed after the set*id and capset that would clear it
    zygote, call = death_order(ops), death_order(compiled[2])
    assert zygote.index("death") < zygote.index("S")
    assert call.index("death") > max(call.index("S"), call.index("J"), call.index("K"))


def test_a_spec_that_is_not_a_function_jails_is_refused(compiled):
    spec, ctx, _ = compiled
    spec["mounts"].append({"destination": "/x", "type": "bind", "source": "/",
                           "options": ["rbind"]})
    with pytest.raises(ValueError):
        describe.compile_jail(spec, ctx)


def test_encoding_round_trips_its_sections(compiled):
    _, _, ops = compiled
    data = describe.encode(ops, ("T", "a", 1))
    stamps, rest = describe.sections(data)
    assert stamps == describe.encode_op(("T", "a", 1))
    assert rest[:4] == len(ops).to_bytes(4, "little")
    with pytest.raises(ValueError):
        describe.sections(b"PYCPLAN4" + data[8:])
    # the cache adds its stamps to the description the call started from
    assert describe.with_stamps(describe.encode(ops), ("T", "a", 1)) == data


def test_the_stamps_cover_the_package_data_a_compile_reads():
    """The stamps name the modules the engine imported, plus PACKAGE_DATA: a
    data file pyproject.toml installs (but _bin's) must be in it."""
    import glob
    import tomllib
    from pycontain.fn.oneshot import description_cache

    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    with open(os.path.join(root, "pyproject.toml"), "rb") as f:
        patterns = tomllib.load(f)["tool"]["setuptools"]["package-data"]["pycontain"]
    installed = {os.path.relpath(path, os.path.join(root, "pycontain"))
                 for pattern in patterns if not pattern.startswith("_bin/")
                 for path in glob.glob(os.path.join(root, "pycontain", pattern))}
    assert installed and installed == set(description_cache.PACKAGE_DATA)
    files = [path for path, _ in description_cache.installed_fingerprints()]
    assert describe.__file__ in files and description_cache.__file__ in files
    assert all(os.path.exists(path) for path in files[:-2])


def test_the_engines_start_path_stays_lean():
    """A first `fn exec` call starts the engine's interpreter before the jail's:
    what it imports is on every such call's path (signal's enum costs ~4 ms)."""
    import subprocess
    import sys
    modules = ("pycontain.cli.entry", "pycontain.fn.oneshot.exec_command",
               "pycontain.fn.oneshot.call", "pycontain.fn.oneshot.describe",
               "pycontain.fn.oneshot.description_cache", "pycontain.image.store")
    code = (f"import sys\nfor m in {modules!r}: __import__(m)\n"
            "print(sorted(m for m in ('signal', 'enum', 're', 'subprocess', 'json') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
