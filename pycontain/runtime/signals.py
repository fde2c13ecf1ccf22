"""Signal names as docker accepts them: KILL, SIGKILL, 9."""
import signal

from pycontain.errors import PycontainError


def parse_signal(text: str) -> int:
    name = text.upper()
    if name.isdigit():
        num = int(name)
        if 0 < num < signal.NSIG:
            return num
    else:
        name = name if name.startswith("SIG") else "SIG" + name
        if isinstance(getattr(signal.Signals, name, None), signal.Signals):
            return int(signal.Signals[name])
    raise PycontainError(f"invalid signal: {text}")
