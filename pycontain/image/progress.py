"""Progress of blob transfers: one tqdm bar per layer on a terminal, plain
lines otherwise (logs, pipes, tests). Safe to use from worker threads."""
import sys
import threading

from pycontain.image.manifest import short_digest


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


class Lines:
    """A line per finished blob."""

    def __init__(self, stream):
        self.stream = stream
        self.lock = threading.Lock()

    def say(self, text: str) -> None:
        with self.lock:
            print(text, file=self.stream, flush=True)

    def blob(self, desc) -> "_LineBlob":
        return _LineBlob(self, desc)

    def close(self) -> None:
        pass


class _LineBlob:
    def __init__(self, owner, desc):
        self.owner = owner
        self.desc = desc

    def update(self, n: int) -> None:
        pass

    def done(self, note: str) -> None:
        self.owner.say(f"Blob {short_digest(self.desc.digest)} "
                       f"({_size(self.desc.size)}): {note}")


class Bars(Lines):
    """A tqdm bar per blob, stacked."""

    def __init__(self, stream):
        super().__init__(stream)
        self.count = 0

    def say(self, text: str) -> None:
        from tqdm import tqdm
        with self.lock:
            tqdm.write(text, file=self.stream)

    def blob(self, desc) -> "_BarBlob":
        from tqdm import tqdm
        with self.lock:
            position, self.count = self.count, self.count + 1
        return _BarBlob(tqdm(total=desc.size, unit="B", unit_scale=True, position=position,
                             desc=short_digest(desc.digest), file=self.stream, leave=True,
                             dynamic_ncols=True))


class _BarBlob:
    def __init__(self, bar):
        self.bar = bar

    def update(self, n: int) -> None:
        self.bar.update(n)

    def done(self, note: str) -> None:
        self.bar.n = self.bar.total
        self.bar.set_postfix_str(note, refresh=False)
        self.bar.close()


class Silent(Lines):
    def __init__(self):
        super().__init__(None)

    def say(self, text: str) -> None:
        pass


def for_stream(stream=None, quiet: bool = False):
    """Bars on a terminal, lines elsewhere, nothing when quiet."""
    stream = stream or sys.stderr
    if quiet:
        return Silent()
    return Bars(stream) if stream.isatty() else Lines(stream)
