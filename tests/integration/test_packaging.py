"""`pip install .` gets the same `pycontain` command as ./install.sh: setup.py
builds the static launcher (csrc/launcher.c) as the command and installs
bin/pycontain beside it as pycontain-main; pycontain-runc is the same launcher,
running pycontain-runc-main."""
import subprocess
import sys

from conftest import PYCONTAIN, REPO


def test_setup_py_builds_the_launcher_as_the_command(tmp_path):
    subprocess.run([sys.executable, "setup.py", "-q", "build_scripts", "--build-dir", tmp_path],
                   cwd=REPO, check=True, capture_output=True)
    command, main = tmp_path / "pycontain", tmp_path / "pycontain-main"
    assert command.read_bytes()[:4] == b"\x7fELF"  # the launcher, not the script
    assert main.read_bytes() == (REPO / "bin" / "pycontain").read_bytes()
    assert (tmp_path / "pycontain-runc").read_bytes() == command.read_bytes()  # by its name
    assert (tmp_path / "pycontain-runc-main").read_bytes() == main.read_bytes()
    assert main.stat().st_mode & 0o111 and command.stat().st_mode & 0o111
    # and the installed command (install.sh runs pip) is that launcher
    assert open(PYCONTAIN, "rb").read(4) == b"\x7fELF"
