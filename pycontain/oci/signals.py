"""Signal names as docker accepts them: KILL, SIGKILL, 9.

From `_signal`'s constants, not `signal.Signals`: the `signal` module's enum
costs ~4 ms on the start path of every command that takes a signal."""
import _signal

from pycontain.errors import PycontainError

NAMES = {name: getattr(_signal, name) for name in dir(_signal)
         if name.startswith("SIG") and not name.startswith("SIG_")
         and isinstance(getattr(_signal, name), int)}


def parse_signal(text: str) -> int:
    name = text.upper()
    if name.isdigit():
        num = int(name)
        if 0 < num < _signal.NSIG:
            return num
    else:
        name = name if name.startswith("SIG") else "SIG" + name
        if name in NAMES:
            return NAMES[name]
    raise PycontainError(f"invalid signal: {text}")
