"""A forked container monitor never unwinds into its parent's stack: if it did
(SIGINT during `kube play`), the child would run kube's rollback too."""
import os
import types

import pytest

from pycontain.engine import container
from pycontain.errors import PycontainError


def test_a_failing_monitor_child_always_exits(tmp_path, monkeypatch):
    def interrupted(ctr, exc):
        raise KeyboardInterrupt  # e.g. SIGINT while the child records the failure

    def no_socket(run_dir):
        raise OSError("no socket")
    monkeypatch.setattr(container, "_unstarted", interrupted)
    monkeypatch.setattr("pycontain.engine.attach_hub.listen", no_socket)
    ctr = types.SimpleNamespace(path=lambda name: str(tmp_path / name), run_dir=str(tmp_path),
                                meta={})
    unwound, parent = tmp_path / "unwound", os.getpid()
    try:
        with pytest.raises(PycontainError):
            container.run_detached(ctr, {}, types.SimpleNamespace(tty=False))
    finally:
        if os.getpid() != parent:  # the child got here: the parent's stack unwound in it
            unwound.touch()
            os._exit(0)
    assert not unwound.exists()
