#!/usr/bin/env python3
"""One-shot function latency: `pycontain fn exec handler.py` (cold: a fresh
jail and a fresh python per call; as root, from the second call of an
invocation on, the launcher builds the jail from the description the first
call's engine compiled, pycontain.fn.oneshot.describe, and runs the call with no
engine; its first call: the engine compiles the jail, the same C executor
builds it, and the floor of such a first call: the engine's interpreter
starting with nothing to do, then a cached call; and through the script pip
installs, the engine every time) vs `bwrap
--unshare-all` running the same handler, through the same runner (and its
bytecode), with the host's /usr/bin/python3 (and, as a second row, with the handler's
bytecode bound in too, as pycontain binds it: bwrap's python otherwise compiles
the handler on every call); plus that runner without any jail, the floor.
Run as root: bench/fn_exec.py [ROUNDS]."""
import itertools
import os
import shutil
import sys
import tempfile

from common import PYCONTAIN, REPO, measure, print_table, time_once

HANDLER = "def handler(event, context):\n    return {'greeting': 'Hello, ' + event['name']}\n"
EVENT = b'{"name": "John Doe"}'
sys.path.append(str(REPO))  # after the installed pycontain, which has its C extension built
from pycontain import paths  # noqa: E402
from pycontain.fn.jail import (BOOT, PYC_NAME, RUNNER, RUNNER_IN_JAIL, RUNTIME_DIR,  # noqa: E402
                               bytecode, runner_bytecode)


def bwrap_command(handler: str, handler_pyc: str = "") -> list:
    """bwrap running the handler with the host's python3; with handler_pyc, the
    handler's bytecode too (as pycontain binds it), else python compiles it."""
    pyc_bind = ["--ro-bind", handler_pyc,
                f"/var/task/__pycache__/handler.{sys.implementation.cache_tag}.pyc"]
    binds = ["--ro-bind", "/usr", "/usr"] + [
        arg for link in ("bin", "lib", "lib64", "sbin") if os.path.islink(f"/{link}")
        for arg in ("--symlink", os.readlink(f"/{link}"), f"/{link}")]
    return ["bwrap", "--unshare-all", "--die-with-parent", "--clearenv", *binds,
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
            "--ro-bind", handler, "/var/task/handler.py", *(pyc_bind if handler_pyc else []),
            "--ro-bind", RUNNER, RUNNER_IN_JAIL,
            "--ro-bind", runner_bytecode(), f"{RUNTIME_DIR}/__pycache__/{PYC_NAME}",
            "--chdir", "/var/task", "--setenv", "_HANDLER", "handler.handler",
            "/usr/bin/python3", "-I", "-S", "-B", "-c", BOOT]


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    work = tempfile.mkdtemp(prefix="pycontain-bench-fn-")
    try:
        os.chmod(work, 0o755)
        handler = os.path.join(work, "handler.py")
        with open(handler, "w") as f:
            f.write(HANDLER)
        runtime = os.path.join(work, "runtime")
        os.makedirs(os.path.join(runtime, "__pycache__"))
        shutil.copy2(RUNNER, os.path.join(runtime, os.path.basename(RUNNER_IN_JAIL)))
        shutil.copy2(runner_bytecode(), os.path.join(runtime, "__pycache__", PYC_NAME))
        event = os.path.join(work, "event.json")
        with open(event, "wb") as f:
            f.write(EVENT)

        def timed(cmd, env=lambda: None):
            def once():
                with open(event, "rb") as stdin:
                    return time_once(cmd, stdin=stdin, stderr=-3, env=env())  # -3: DEVNULL
            return once
        fn_exec = [PYCONTAIN, "fn", "exec", handler, "--event", "-"]
        # a variable the key of a cached description includes, and that nothing reads as root
        fresh_key = (dict(os.environ, XDG_DATA_HOME=f"/nonexistent/{n}") for n in itertools.count())
        engine_start = timed([os.path.join(os.path.dirname(PYCONTAIN), "python3"), "-I", "-S",
                              "-c", "pass"])
        cached = timed(fn_exec)
        cases = {
            "pycontain fn exec handler.py": cached,
            "  same, its first call (the engine compiles)": timed(
                fn_exec, lambda: next(fresh_key)),
            # what a first call costs at least when a Python engine compiles before
            # the jail starts (one start path): its bare interpreter, then the C path
            "  the engine's python starting, then a call": lambda: engine_start() + cached(),
            "  same, through pycontain-main (no launcher)": timed(
                [os.path.join(os.path.dirname(PYCONTAIN), "pycontain-main"), *fn_exec[1:]]),
            "bwrap --unshare-all + /usr/bin/python3": timed(bwrap_command(handler)),
            "  same, with the handler's bytecode bound in": timed(bwrap_command(
                handler, bytecode(handler, os.path.join(work, "handler.pyc"), by_hash=True))),
            "/usr/bin/python3 runner, no jail (floor)": timed(
                ["env", "-i", "_HANDLER=handler.handler", f"LAMBDA_TASK_ROOT={work}",
                 "/usr/bin/python3", "-I", "-S", "-B", "-c",
                 BOOT.replace(repr(RUNTIME_DIR), repr(runtime))]),
        }
        plans = paths.cache_path("plans")
        kept = set(os.listdir(plans)) if os.path.isdir(plans) else set()
        try:
            samples = measure(cases, rounds)
        finally:  # the descriptions of the first calls
            for name in set(os.listdir(plans)) - kept if os.path.isdir(plans) else ():
                os.unlink(os.path.join(plans, name))
        print_table(samples, "bwrap --unshare-all + /usr/bin/python3",
                    f"One-shot handler call, {rounds} interleaved rounds, event {EVENT.decode()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
