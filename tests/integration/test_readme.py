"""The README's Usage blocks run as written, in order, in an empty directory.

Each block runs in one bash session (a variable or a background job of one command is
there for the next), command by command (a line, with its `\\` continuations and heredoc
body), inside the test's own network namespace, on the test store. A command whose comment says
`# fails` must fail; the few that cannot run unattended are listed in UNATTENDED with
the reason, and must still be in the README (so the list cannot rot).
"""
import os
import subprocess

from conftest import PYCONTAIN, REPO

UNATTENDED = {
    "pycontain run -it busybox sh": "needs a terminal",
}
EXPECT = {  # what a command's output shows, by the start of its first line;
    "pycontain run --rm busybox echo hello": "hello",
    "pycontain run --rm -v \"$PWD": "hello",
    "pycontain run --rm -v store:/store:ro": "kept",
    "curl -s --retry 20 --retry-connrefused --retry-delay 1 http://127.0.0.1:8080/": "hello",
    "pycontain run --rm --network shop": "hello",
    "pycontain run --rm app:1": "built by pycontain",
    "curl -s --retry 20 --retry-connrefused --retry-delay 1 http://127.0.0.1:8081/":
        "hello from web-",
    "pycontain run --rm --pid container:probed": "sleep 600",
    "pycontain fn exec handler.py": '"greeting": "hello John Doe"',
    "pycontain fn invoke greeter": '"greeting": "hello Jane"',
    # a tuple: what each command starting so shows, in order
    "curl -s http://127.0.0.1:9000/users/1": ('"name": "Ada"}', '"name": "Ada Lovelace"'),
    "curl -s -X POST": '"for": "Grace"',
    "pycontain fn logs orders": "REPORT RequestId",
}
CLEANUP = ("pycontain rm -f web web2 probed user-service; pycontain network rm shop; "
           "pycontain volume rm -f store; "
           "pycontain kube down web.yaml; pycontain fn delete greeter users orders; "
           "pycontain fn route delete 'GET /users/{id}'; "
           "pycontain fn route delete 'POST /orders'; "
           "pycontain rmi web-snapshot:1 app:1")


def usage_blocks(text: str) -> list:
    """The ```sh blocks of the README's `## Usage` section, as lists of lines."""
    section = text.split("\n## Usage\n", 1)[1].split("\n## ", 1)[0]
    blocks, current = [], None
    for line in section.splitlines():
        if current is None and line.strip() == "```sh":
            current = []
        elif current is not None and line.strip() == "```":
            blocks.append(current)
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def commands(lines: list) -> list:
    """Shell commands: a line plus its continuation lines and heredoc body."""
    found, i = [], 0
    while i < len(lines):
        command = lines[i]
        i += 1
        while command.endswith("\\") and i < len(lines):
            command += "\n" + lines[i]
            i += 1
        if "<<'EOF'" in command:
            while i < len(lines):
                command += "\n" + lines[i]
                i += 1
                if lines[i - 1] == "EOF":
                    break
        if command.strip():
            found.append(command)
    return found


MARK = "@@readme-status"


def run_block(prefix, block: list, cwd, env) -> list:
    """Run one block's commands in one bash session, as a user types them (a
    variable or a background job of one command is there for the next): the
    stdout and exit status of each, in order."""
    script = cwd / "readme-block.sh"  # a file: stdin stays /dev/null for the commands
    script.write_text("".join(f"{command}\necho {MARK} $?\n" for command in block))
    done = subprocess.run([*prefix, "bash", str(script)], stdin=subprocess.DEVNULL, cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600)
    script.unlink()
    parts = done.stdout.split(MARK)
    results = [(block[n], parts[n], int(parts[n + 1].split("\n", 1)[0]))
               for n in range(len(parts) - 1)]
    assert len(results) == len(block), f"the block stopped after {len(results)} commands:" \
        f"\n{done.stdout}\n{done.stderr}"
    return [(command, out.split("\n", 1)[-1] if n else out, status, done.stderr)
            for n, (command, out, status) in enumerate(results)]


def _servers_in(netns: str) -> list:
    """pids of `pycontain fn serve` processes in the test's network namespace."""
    ours = os.stat(f"/run/netns/{netns}").st_ino
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
            if b"serve" in args and b"fn" in args and \
                    os.stat(f"/proc/{entry}/ns/net").st_ino == ours:
                found.append(int(entry))
        except OSError:
            continue
    return found


def test_readme_usage_runs_as_written(npc, tmp_path):
    blocks = [[c for c in commands(b) if c.split("#")[0].strip() not in UNATTENDED]
              for b in usage_blocks((REPO / "README.md").read_text())]
    every = [c for block in blocks for c in block]
    assert len(every) > 40
    listed = {c.split("#")[0].strip() for b in usage_blocks((REPO / "README.md").read_text())
              for c in commands(b)}
    assert set(UNATTENDED) <= listed, "UNATTENDED names a command the README lost"
    for start in EXPECT:
        assert any(c.startswith(start) for c in every), f"EXPECT: no README command {start!r}"
    env = dict(npc.env, PATH=os.path.dirname(PYCONTAIN) + os.pathsep + os.environ["PATH"])
    seen = {}
    try:
        for block in blocks:
            for command, out, status, errors in run_block(npc.prefix, block, tmp_path, env):
                should_fail = "# fails" in command.splitlines()[0]
                assert (status != 0) == should_fail, (
                    f"{command!r} exited {status}:\n{out}\n{errors}")
                for start, shown in EXPECT.items():
                    if command.startswith(start):
                        seen[start] = seen.get(start, -1) + 1
                        if isinstance(shown, tuple):
                            shown = shown[seen[start]]
                        assert shown in out, (command, out, errors)
    finally:
        subprocess.run([*npc.prefix, "bash", "-c", CLEANUP], cwd=tmp_path, env=env,
                       capture_output=True, timeout=300)
        for pid in _servers_in(npc.netns):  # a block that failed before its `kill %1`
            os.kill(pid, 9)
