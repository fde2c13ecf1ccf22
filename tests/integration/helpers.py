"""Helpers shared by the integration tests: polling, `ps` rows, and reading
pipes or terminals with deadlines."""
import json
import os
import re
import select
import time
import zipfile

# An idle main process that does not keep forking (a polling `sleep` loop would).
IDLE = "while :; do sleep 1000 & wait $!; done"


def wait_for(predicate, timeout=10.0, what="condition"):
    """Poll predicate until it returns something truthy; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def ps_rows(pc, *flags):
    return json.loads(pc.out("ps", *flags, "--format", "json"))


def running(pc, name):
    return any(r["Name"] == name and r["State"] == "running" for r in ps_rows(pc))


class Reader:
    """Reads an fd or stream (a pipe, or a pty master) with deadlines."""

    def __init__(self, source):
        self.fd = source if isinstance(source, int) else source.fileno()
        self.data = b""
        self.eof = False

    def _read(self, timeout):
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if ready:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO: the pty's other side is closed
                chunk = b""
            self.data += chunk
            self.eof = not chunk

    def expect(self, pattern: str, timeout=10.0, start=0):
        """Wait for regex pattern in the output after offset start; the match."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern.encode())
        while True:
            match = regex.search(self.data, start)
            if match:
                return match
            left = deadline - time.monotonic()
            if self.eof or left <= 0:
                raise AssertionError(f"{pattern!r} not seen; got {self.data[start:]!r}")
            self._read(left)

    def drain(self, timeout=10.0) -> bytes:
        """Everything until the other side closes."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"output did not end; got {self.data!r}")
            self._read(left)
        return self.data


def reap(proc) -> None:
    """Kill a Popen still running (a test that failed midway) and close its pipes."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def processes(command_part: bytes, proc_file: str, matches) -> list:
    """Pids of the processes whose command line contains command_part and
    whose /proc/PID/<proc_file> content (bytes) matches (a predicate)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if command_part not in f.read():
                    continue
            with open(f"/proc/{pid}/{proc_file}", "rb") as f:
                if matches(f.read()):
                    found.append(int(pid))
        except OSError:  # gone meanwhile
            continue
    return found


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def one_error_line(result, code=125):
    """The command failed with code and said why in exactly one stderr line."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def created_functions(engine_env, zip_dir, code: str, functions: dict, options=lambda name: ()):
    """For a module fixture: create each {name: handler} of functions from one
    app.py holding code; yield the Engine; delete them again afterwards."""
    from conftest import Engine
    engine = Engine(engine_env)
    zip_path = zip_dir / "app.zip"
    with zipfile.ZipFile(zip_path, "w") as z:
        z.writestr("app.py", code)
    for name, handler in functions.items():
        engine("fn", "delete", name)
        engine.out("fn", "create", name, "--zip-file", zip_path, "--handler", handler,
                   *options(name))
    yield engine
    for name in functions:
        engine("fn", "delete", name)


# Handler source (for the tests' function code): what of pattern is in the memory
# the handler's process wrote (heap, stack, anonymous mappings); files mapped past
# their end would raise SIGBUS. Overlapping 1 MB chunks, so no match is cut.
FIND_IN_MEMORY = r"""
def find_in_memory(pattern):
    import ctypes
    found = set()
    for line in open("/proc/self/maps"):
        fields = line.split()
        if "r" not in fields[1] or (len(fields) > 5 and fields[5] not in ("[heap]", "[stack]")):
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        for chunk in range(start, end, 1 << 20):
            data = ctypes.string_at(chunk, min((1 << 20) + 64, end - chunk))
            found.update(m.decode() for m in pattern.findall(data))
    return found
"""


class SmallStore:
    """A store and state root on a tmpfs of their own (size_mb), holding the
    busybox image, for tests that fill the disk; `fill()` takes every free
    byte, `free()` gives it back. Unmounted on exit (lazily if something still
    holds it, and then the test fails), the test's containers removed first."""

    def __init__(self, engine_env: dict, directory, size_mb: int = 24):
        from conftest import Engine
        self.mount = directory / "disk"
        self.size_mb = size_mb
        self.pc = Engine(dict(engine_env, PYCONTAIN_ROOT=str(self.mount / "data"),
                              PYCONTAIN_RUNROOT=str(self.mount / "run")))
        self.layout = os.path.join(os.path.dirname(engine_env["PYCONTAIN_ROOT"]), "layouts",
                                   "busybox")
        self.filler = self.mount / "filler"

    def __enter__(self):
        import subprocess
        self.mount.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size_mb}m,mode=0700",
                        "pycontain-test-small", str(self.mount)], check=True)
        try:
            self.pc.out("import", f"oci:{self.layout}", "localhost/busybox:latest")
        except BaseException:
            self.__exit__()
            raise
        return self

    def fill(self) -> None:
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in (1 << 20, 4096, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError as exc:
                    assert exc.errno == 28, exc  # ENOSPC
        finally:
            os.close(fd)
        assert os.statvfs(self.mount).f_bavail == 0

    def free(self) -> None:
        if self.filler.exists():
            os.unlink(self.filler)

    def leftovers(self) -> dict:
        """What a failed command must not leave: containers, state, names,
        temporaries, pulls in progress."""
        root, found = self.pc.root, {}
        for name in ("containers", "names", "pulls"):
            entries = [e for e in os.listdir(root / name) if e != "lock"] \
                if (root / name).exists() else []
            if entries:
                found[name] = entries
        if self.pc.runroot.exists() and os.listdir(self.pc.runroot):
            found["state"] = os.listdir(self.pc.runroot)
        temporaries = [os.path.join(d, n) for d, dirs, files in os.walk(root)
                       for n in dirs + files if ".tmp-" in n]
        if temporaries:
            found["temporaries"] = temporaries
        return found

    def __exit__(self, *_exc):
        import subprocess
        try:
            for cid in self.pc.containers():
                self.pc("rm", "-f", cid)
        finally:
            if subprocess.run(["umount", str(self.mount)]).returncode != 0:
                subprocess.run(["umount", "-l", str(self.mount)], check=True)
                raise AssertionError(f"{self.mount} was still in use")
