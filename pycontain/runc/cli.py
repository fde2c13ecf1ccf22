"""The pycontain-runc command: runc's command line over pycontain's runtime.

    pycontain-runc [global flags] COMMAND [flags] ID [args]

Errors: one line on stderr (and, with --log, in the log file: one JSON object
with --log-format json, as podman reads it), exit status 1.
"""
import argparse
import json
import os
import sys
import time

from pycontain.runc.state import RuncError, default_root

VERSION = "0.1.0"
SPEC_VERSION = "1.0.2"


class Log:
    """runc's --log/--log-format: where errors and warnings also go."""

    def __init__(self, path, fmt: str, debug: bool):
        self.path, self.fmt, self.debug = path, fmt, debug

    def __call__(self, level: str, msg: str) -> None:
        if not self.path:
            return
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if self.fmt == "json":
            line = json.dumps({"level": level, "msg": msg, "time": stamp})
        else:
            line = f'time="{stamp}" level={level} msg={json.dumps(msg)}'
        try:
            with open(self.path, "a") as f:
                f.write(line + "\n")
        except OSError:
            pass


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pycontain-runc", allow_abbrev=False)
    p.add_argument("--root", default=None)
    p.add_argument("--log", default=None)
    p.add_argument("--log-format", default="text", choices=("text", "json"))
    p.add_argument("--debug", action="store_true")
    p.add_argument("--systemd-cgroup", action="store_true")
    p.add_argument("--rootless", default="auto", choices=("auto", "true", "false"))
    p.add_argument("--criu", default=None)
    p.add_argument("-v", "--version", action="store_true")
    sub = p.add_subparsers(dest="command")

    def cmd(name, *ids):
        c = sub.add_parser(name, allow_abbrev=False)
        for arg in ids:
            c.add_argument(arg)
        return c

    for name in ("create", "run"):
        c = cmd(name)
        c.add_argument("-b", "--bundle", default=".")
        c.add_argument("--pid-file")
        c.add_argument("--console-socket")
        c.add_argument("--no-pivot", action="store_true")
        c.add_argument("--no-new-keyring", action="store_true")
        c.add_argument("--preserve-fds", type=int, default=0)
        if name == "run":
            c.add_argument("-d", "--detach", action="store_true")
            c.add_argument("--keep", action="store_true")
            c.add_argument("--no-subreaper", action="store_true")
        c.add_argument("id")
    for name in ("start", "state", "pause", "resume", "checkpoint", "restore", "events"):
        cmd(name).add_argument("id", nargs="?")
    c = cmd("kill")
    c.add_argument("-a", "--all", action="store_true")
    c.add_argument("id")
    c.add_argument("signal", nargs="?", default="TERM")
    c = cmd("delete")
    c.add_argument("-f", "--force", action="store_true")
    c.add_argument("id")
    c = cmd("exec")
    c.add_argument("-p", "--process")
    c.add_argument("-d", "--detach", action="store_true")
    c.add_argument("--pid-file")
    c.add_argument("-t", "--tty", action="store_true")
    c.add_argument("--console-socket")
    c.add_argument("--cwd")
    c.add_argument("-e", "--env", action="append", default=[])
    c.add_argument("-u", "--user")
    c.add_argument("-g", "--additional-gids", action="append", default=[])
    c.add_argument("--preserve-fds", type=int, default=0)
    c.add_argument("--no-new-privs", action="store_true")
    c.add_argument("-c", "--cap", action="append", default=[])
    c.add_argument("--apparmor")
    c.add_argument("--process-label")
    c.add_argument("id")
    c.add_argument("args", nargs=argparse.REMAINDER)
    c = cmd("ps")
    c.add_argument("-f", "--format", default="table", choices=("table", "json"))
    c.add_argument("id")
    c.add_argument("ps_args", nargs=argparse.REMAINDER)
    c = cmd("list")
    c.add_argument("-f", "--format", default="table", choices=("table", "json"))
    c.add_argument("-q", "--quiet", action="store_true")
    c = cmd("update")
    c.add_argument("-r", "--resources")
    for flag in ("--memory", "--memory-swap", "--memory-reservation", "--kernel-memory",
                 "--cpu-shares", "--cpu-quota", "--cpu-period", "--cpu-rt-period",
                 "--cpu-rt-runtime", "--cpuset-cpus", "--cpuset-mems", "--pids-limit",
                 "--blkio-weight"):
        c.add_argument(flag)
    c.add_argument("id")
    cmd("features")
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.version:
        print(f"pycontain-runc version {VERSION}\ncommit: pycontain\nspec: {SPEC_VERSION}")
        return 0
    log = Log(args.log, args.log_format, args.debug)
    if not args.command:
        print("pycontain-runc: a command is required (create, start, run, state, kill, "
              "delete, exec, ps, pause, resume, update, list, features)", file=sys.stderr)
        return 1
    try:
        from pycontain.runc import commands
        return commands.dispatch(args, args.root or default_root(), log)
    except RuncError as exc:
        message = str(exc)
    except KeyboardInterrupt:
        return 130
    log("error", message)
    print(f"pycontain-runc: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
