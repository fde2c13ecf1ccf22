"""How a container is stopped gracefully: its stop signal (--stop-signal,
else the image's StopSignal, else SIGTERM), then SIGKILL after its stop
timeout (`stop -t`, else --stop-timeout, else 10 s; -1: wait for ever).

`create` stores both in the container's record (`settings`); `stop` (and so
`restart`, and `kube down` through `stop_all`) asks `plan` what to send and
how long to wait."""
from pycontain.errors import PycontainError

DEFAULT_TIMEOUT = 10
MAX_TIMEOUT = 1 << 31  # seconds: what fits docker's int


def settings(image_cfg: dict, stop_signal, stop_timeout) -> dict:
    """The record's `stop_signal` and `stop_timeout`, for what was asked (the
    flags' text, or None) and the image's config; checked now, so that a bad
    one fails `create`, not a later `stop`."""
    from pycontain.oci.signals import parse_signal

    out = {}
    sig = stop_signal or image_cfg.get("StopSignal")
    if sig:
        if not isinstance(sig, str) or len(sig) > 32:
            raise PycontainError(f"invalid stop signal: {str(sig)[:32]!r}")
        parse_signal(sig)  # "invalid signal: X"
        out["stop_signal"] = sig
    if stop_timeout is not None:
        out["stop_timeout"] = parse_timeout(stop_timeout, "--stop-timeout")
    return out


def parse_timeout(text, what: str) -> int:
    """Whole seconds, -1 (no limit) or more."""
    try:
        value = int(str(text).strip())
    except ValueError:
        raise PycontainError(f"invalid {what} {text!r}: want whole seconds (-1: no limit)") \
            from None
    if not -1 <= value <= MAX_TIMEOUT:
        raise PycontainError(f"invalid {what} {text!r}: want whole seconds (-1: no limit)")
    return value


def plan(meta: dict, timeout=None, sig=None) -> tuple:
    """(signal number, seconds to wait or None for ever) for a graceful stop:
    the caller's timeout and signal if given, else the container's own."""
    from pycontain.oci.signals import parse_signal

    signum = parse_signal(sig or meta.get("stop_signal") or "SIGTERM")
    if timeout is None:
        timeout = meta.get("stop_timeout")
    if timeout is None:
        timeout = DEFAULT_TIMEOUT
    return signum, (None if timeout < 0 else timeout)


def stop_all(ctrs: list) -> list:
    """Stop containers together (`kube down`): each as `stop` does, in a
    thread of its own, so the whole takes the longest timeout, not their sum.
    The errors (a container that exited meanwhile is none)."""
    import threading

    from pycontain.engine.container import stop

    errors = []

    def one(ctr):
        try:
            stop(ctr)
        except ProcessLookupError:
            pass
        except Exception as exc:  # noqa: BLE001 - the caller's to report, after the others
            errors.append(exc)
    threads = [threading.Thread(target=one, args=(ctr,)) for ctr in ctrs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
