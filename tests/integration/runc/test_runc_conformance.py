"""The OCI runtime conformance suite (opencontainers/runtime-tools validation,
built by ../shared/tools/oci-validation) against pycontain-runc and against
runc in the same run: pycontain-runc may not fail more of it than runc.
Slow (~3 minutes for both): it runs once per CI run, here."""
import re
import subprocess
from pathlib import Path

import pytest

from conftest import REPO
from .bundle import RUNC

TOOL = REPO.parent / "shared" / "tools" / "oci-validation"
SUMMARY = re.compile(r"oci validation: .*: ok (\d+), not ok (\d+), skipped (\d+)")


def _run(runtime: str, out: Path) -> dict:
    proc = subprocess.run([str(TOOL), runtime, str(out)], capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, f"oci-validation {runtime}: {proc.stderr[-2000:]}"
    ok, bad, skipped = map(int, SUMMARY.search(proc.stdout).groups())
    failed = {}
    for tap in sorted(out.glob("*.tap")):
        count = tap.read_text(errors="replace").count("\nnot ok")
        if count:
            failed[tap.stem] = count
    return {"ok": ok, "not ok": bad, "skipped": skipped, "failed": failed}


def test_pycontain_runc_fails_no_more_of_the_suite_than_runc(tmp_path):
    if not TOOL.exists():
        pytest.fail(f"the conformance suite's runner is missing: {TOOL}")
    ours = _run(RUNC, tmp_path / "pycontain-runc")
    theirs = _run("runc", tmp_path / "runc")
    print(f"\npycontain-runc: {ours}\nrunc: {theirs}")
    assert ours["ok"] > 3000, ours  # the suite really ran
    assert ours["not ok"] <= theirs["not ok"], (ours, theirs)
