"""A built image in another engine: `pycontain save` -> `podman load` ->
`podman run` (pycontain-runc as its runtime, as in the runc caller tests)."""
import os

from runc.callers import Podman


def test_podman_runs_a_built_image(pc, tmp_path):
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\nRUN echo from-build > /msg\nENV WHO=podman\n"
        "CMD [\"sh\", \"-c\", \"cat /msg; echo $WHO\"]\n")
    pc.out("build", "--network", "none", "-q", "-t", "interop", tmp_path, timeout=120)
    archive = tmp_path / "interop.tar"
    pc.out("save", "-o", archive, "interop")
    podman = Podman(f"pycontain-build-podman-{os.getpid()}")
    try:
        loaded = podman("load", "-i", archive).stdout.split("Loaded image:")[-1].split()[0]
        result = podman("run", "--rm", *podman.run_flags, loaded)
        assert result.stdout == "from-build\npodman\n"
    finally:
        podman.cleanup()
