"""OCI hooks: run with the container's state on stdin, each within its timeout.

prestart and createRuntime run in the runtime's namespaces once the container's
namespaces exist; createContainer in the container's mount namespace before
pivot_root, startContainer in the container after `start`, before exec (both
in the container's first process, oci.nsinit); poststart after `start`;
poststop at `delete`. A failing hook of the first four stages fails the
container; poststart and poststop failures are warnings (the OCI runtime
spec's rules).
"""
import sys

from pycontain.errors import PycontainError
from pycontain.jsonio import dumps

FATAL = ("prestart", "createRuntime", "createContainer", "startContainer")


def run(spec: dict, stage: str, state: dict, log=None) -> None:
    """Run the spec's hooks of one stage in order; raise (fatal stages) or warn."""
    for hook in (spec.get("hooks") or {}).get(stage) or ():
        try:
            _run_one(hook, state)
        except PycontainError as exc:
            if stage in FATAL:
                raise PycontainError(f"{stage} hook: {exc}") from None
            message = f"{stage} hook: {exc}"
            (log or (lambda level, msg: print(f"pycontain-runc: warning: {msg}",
                                              file=sys.stderr)))("warning", message)


def _run_one(hook: dict, state: dict) -> None:
    path = hook.get("path")
    if not path or not path.startswith("/"):
        raise PycontainError(f"hook path must be absolute, got {path!r}")
    import subprocess  # here: most containers have no hooks, and it costs ~4 ms
    args = hook.get("args") or [path]
    try:
        proc = subprocess.run(args, executable=path, input=dumps(state, indent=None).encode(),
                              env=dict(e.split("=", 1) for e in hook.get("env", ()) if "=" in e),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              timeout=hook.get("timeout") or None)
    except subprocess.TimeoutExpired:
        raise PycontainError(f"{path} timed out after {hook['timeout']} s") from None
    except OSError as exc:
        raise PycontainError(f"{path}: {exc.strerror}") from None
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        raise PycontainError(f"{path} exited with status {proc.returncode}"
                        + (f": {detail[-1]}" if detail else ""))
