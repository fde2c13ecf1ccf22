"""Build steps pyproject.toml cannot express: the cffi extension and the static init."""
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).parent


class BuildWithInit(build_py):
    """Compile csrc/init.c into a static pycontain/_bin/pycontain-init."""

    def run(self):
        base = HERE if getattr(self, "editable_mode", False) else Path(self.build_lib)
        out = base / "pycontain" / "_bin"
        out.mkdir(parents=True, exist_ok=True)
        subprocess.check_call(
            ["cc", "-static", "-Os", "-s", "-Wall", "-o", str(out / "pycontain-init"),
             str(HERE / "csrc" / "init.c")]
        )
        super().run()


setup(
    cffi_modules=["csrc/build_native.py:ffibuilder", "csrc/build_seccomp.py:ffibuilder",
                  "csrc/build_nftables.py:ffibuilder"],
    cmdclass={"build_py": BuildWithInit},
    scripts=["bin/pycontain", "bin/pycontain-runc"],
)
