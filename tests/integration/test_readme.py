"""The README's Usage blocks run as written, in order, in an empty directory.

Each command (a line, with its `\\` continuations and heredoc body) runs in bash inside
the test's own network namespace, on the test store. A command whose comment says
`# fails` must fail; the few that cannot run unattended are listed in UNATTENDED with
the reason, and must still be in the README (so the list cannot rot).
"""
import os
import subprocess

from conftest import PYCONTAIN, REPO

UNATTENDED = {
    "pycontain run -it busybox sh": "needs a terminal",
}
EXPECT = {  # what a command's output shows, by the start of its first line
    "pycontain run --rm busybox echo hello": "hello",
    "pycontain run --rm -v \"$PWD": "hello",
    "pycontain run --rm -v store:/store:ro": "kept",
    "curl -s --retry 20 --retry-connrefused --retry-delay 1 http://127.0.0.1:8080/": "hello",
    "pycontain run --rm --network shop": "hello",
    "pycontain run --rm app:1": "built by pycontain",
    "curl -s --retry 20 --retry-connrefused --retry-delay 1 http://127.0.0.1:8081/":
        "hello from web-",
    "pycontain fn exec handler.py": '"greeting": "hello John Doe"',
    "pycontain fn invoke greeter": '"greeting": "hello Jane"',
}
CLEANUP = ("pycontain rm -f web web2 user-service; pycontain network rm shop; "
           "pycontain volume rm -f store; "
           "pycontain kube down web.yaml; pycontain fn delete greeter; "
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


def test_readme_usage_runs_as_written(npc, tmp_path):
    every = [c for block in usage_blocks((REPO / "README.md").read_text())
             for c in commands(block)]
    assert len(every) > 40
    first_lines = {c.split("#")[0].strip() for c in every}
    assert set(UNATTENDED) <= first_lines, "UNATTENDED names a command the README lost"
    for start in EXPECT:
        assert any(c.startswith(start) for c in every), f"EXPECT: no README command {start!r}"
    env = dict(npc.env, PATH=os.path.dirname(PYCONTAIN) + os.pathsep + os.environ["PATH"])

    def bash(command: str) -> subprocess.CompletedProcess:
        return subprocess.run([*npc.prefix, "bash", "-c", command], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
    try:
        for command in every:
            if command.split("#")[0].strip() in UNATTENDED:
                continue
            done = bash(command)
            should_fail = "# fails" in command.splitlines()[0]
            assert (done.returncode != 0) == should_fail, (
                f"{command!r} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
            for start, shown in EXPECT.items():
                if command.startswith(start):
                    assert shown in done.stdout, (command, done.stdout)
    finally:
        bash(CLEANUP)
