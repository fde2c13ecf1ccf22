"""Build steps pyproject.toml cannot express: the cffi extension, the static
init and the `pycontain` command's static launcher."""
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

from distutils.command.build_scripts import build_scripts  # noqa: I100 (setuptools' distutils)

HERE = Path(__file__).parent
# The launcher's C sources (csrc/launcher.c and what it links with).
LAUNCHER_SOURCES = ("launcher.c", "plan.c", "call.c", "runc_fast.c")


def _static(output: Path, *sources: str) -> None:
    subprocess.check_call(["cc", "-static", "-Os", "-s", "-Wall", "-o", str(output),
                           *(str(HERE / "csrc" / name) for name in sources)])


class BuildWithInit(build_py):
    """Compile csrc/init.c into a static pycontain/_bin/pycontain-init."""

    def run(self):
        base = HERE if getattr(self, "editable_mode", False) else Path(self.build_lib)
        out = base / "pycontain" / "_bin"
        out.mkdir(parents=True, exist_ok=True)
        _static(out / "pycontain-init", "init.c")
        super().run()


class BuildWithLauncher(build_scripts):
    """The `pycontain` command is the static launcher (csrc/launcher.c), which
    runs bin/pycontain, installed beside it as pycontain-main, with the python3
    beside it (as `python3 -I -S pycontain-main ARGS`): ~1 ms sooner than that
    script's own sh part. pycontain-runc is the same launcher, which runs
    pycontain-runc-main (bin/pycontain again: it picks its module by its name)."""

    def run(self):
        super().run()
        out = Path(self.build_dir)
        for main in ("pycontain-main", "pycontain-runc-main"):  # never stale
            shutil.copyfile(HERE / "bin" / "pycontain", out / main)
            (out / main).chmod(0o755)
        _static(out / "pycontain.new", *LAUNCHER_SOURCES)
        # the same launcher as pycontain-runc: by its name it runs pycontain-runc-main
        shutil.copyfile(out / "pycontain.new", out / "pycontain-runc.new")
        (out / "pycontain-runc.new").chmod(0o755)
        (out / "pycontain-runc.new").replace(out / "pycontain-runc")
        (out / "pycontain.new").replace(out / "pycontain")


setup(
    cffi_modules=["csrc/build_native.py:ffibuilder", "csrc/build_seccomp.py:ffibuilder",
                  "csrc/build_nftables.py:ffibuilder"],
    cmdclass={"build_py": BuildWithInit, "build_scripts": BuildWithLauncher},
    scripts=["bin/pycontain", "bin/pycontain-runc"],
)
