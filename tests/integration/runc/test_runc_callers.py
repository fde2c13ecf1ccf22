"""podman, containerd (ctr) and containerd's CRI plugin run their containers
with pycontain-runc as their OCI runtime."""
import json
import os
import pty
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import PYCONTAIN
from helpers import wait_for
from .callers import Containerd, Podman, make_pause_image, remove_cgroup_dirs


@pytest.fixture(scope="module")
def busybox_tar(engine_env, tmp_path_factory):
    """The bundled busybox image as docker-archive, from `pycontain save`."""
    out = tmp_path_factory.mktemp("images") / "busybox.tar"
    subprocess.run([PYCONTAIN, "save", "-o", out, "busybox"], env=engine_env, check=True)
    return out


@pytest.fixture
def podman(busybox_tar):
    had_run_dir = os.path.exists("/run/containers")
    pm = Podman(f"pycontain-podman-test-{os.getpid()}")
    pm("load", "-i", busybox_tar)
    yield pm
    pm.cleanup()
    if not had_run_dir:  # podman's own run-time directory, made on its first run
        shutil.rmtree("/run/containers", ignore_errors=True)


def test_podman_runs_its_containers_with_pycontain_runc(podman):
    flags = podman.run_flags
    out = podman("run", "--rm", *flags, "busybox", "sh", "-c", "cat /proc/1/comm; echo hello")
    assert out.stdout == "sh\nhello\n"
    assert podman("run", "--rm", *flags, "busybox", "sh", "-c", "exit 3",
                  check=False).returncode == 3
    missing = podman("run", "--rm", *flags, "busybox", "nosuchcmd", check=False)
    assert missing.returncode == 127 and "executable file not found" in missing.stderr
    podman("run", "-d", "--name", "c1", *flags, "busybox", "sh", "-c",
           "trap '' TERM; trap 'echo usr1 > /tmp/usr1' USR1; while :; do sleep 0.1; done")
    assert podman("exec", "c1", "echo", "exec-ok").stdout == "exec-ok\n"
    tty = subprocess.run(["script", "-qec", " ".join([*podman.base, "exec", "-t", "c1", "tty"]),
                          "/dev/null"], capture_output=True, text=True, timeout=60)
    assert "/dev/pts/" in tty.stdout
    podman("pause", "c1")
    assert json.loads(podman("inspect", "c1").stdout)[0]["State"]["Status"] == "paused"
    podman("unpause", "c1")
    podman("kill", "-s", "USR1", "c1")
    wait_for(lambda: podman("exec", "c1", "cat", "/tmp/usr1", check=False).stdout == "usr1\n",
             what="USR1 trapped")
    podman("update", "--memory", "64m", "c1")
    pid = json.loads(podman("inspect", "c1").stdout)[0]["State"]["Pid"]
    memory = next(line.split(":", 2)[2] for line in Path(f"/proc/{pid}/cgroup").read_text()
                  .splitlines() if line.split(":")[1] == "memory")
    limit = Path(f"/sys/fs/cgroup/memory{memory}/memory.limit_in_bytes").read_text()
    assert int(limit) == 64 << 20
    started = time.monotonic()
    podman("stop", "-t", "1", "c1")  # its init ignores TERM: KILL after 1 s
    assert time.monotonic() - started < 10
    assert json.loads(podman("inspect", "c1").stdout)[0]["State"]["ExitCode"] == 137
    podman("rm", "c1")


@pytest.fixture(scope="module")
def containerd(tmp_path_factory, busybox_tar):
    directory = tmp_path_factory.mktemp("containerd")
    daemon = Containerd(directory)
    try:
        pause = make_pause_image(busybox_tar, directory / "pause.tar")
        daemon.ctr("images", "import", busybox_tar)
        for archive in (busybox_tar, pause):
            daemon.ctr("images", "import", archive, namespace="k8s.io")
        yield daemon
    finally:
        daemon.stop()
        for name in ("pycontain-ctr-test", "pycontain-cri-test"):
            remove_cgroup_dirs(name)


def test_ctr_runs_tasks_with_pycontain_runc(containerd):
    from .bundle import RUNC
    run = ["run", "--rm", "--runc-binary", RUNC]
    image = "localhost/busybox:latest"
    assert containerd.ctr(*run, "--cgroup", "pycontain-ctr-test/t1", image, "t1", "echo",
                          "hi").stdout == "hi\n"
    assert containerd.ctr(*run, "--cgroup", "pycontain-ctr-test/t2", image, "t2", "sh", "-c",
                          "exit 4", check=False).returncode == 4
    main, sub = pty.openpty()  # ctr -t wants a terminal of its own
    try:
        tty = subprocess.run(["ctr", "--address", containerd.sock, "run", "--rm", "-t",
                              "--runc-binary", RUNC, "--cgroup", "pycontain-ctr-test/t3", image,
                              "t3", "tty"], stdin=sub, stdout=sub, stderr=sub, timeout=60)
        assert tty.returncode == 0
        assert b"/dev/pts/0" in os.read(main, 4096)
    finally:
        os.close(main)
        os.close(sub)
    containerd.ctr("run", "-d", "--runc-binary", RUNC, "--cgroup", "pycontain-ctr-test/t4",
                   image, "t4", "sleep", "1000")
    try:
        done = containerd.ctr("task", "exec", "--exec-id", "e1", "t4", "sh", "-c",
                              "echo exec-out; exit 6", check=False)
        assert done.returncode == 6 and done.stdout == "exec-out\n"
        assert len(containerd.ctr("task", "ps", "t4").stdout.splitlines()) == 2
        containerd.ctr("task", "pause", "t4")
        assert "PAUSED" in containerd.ctr("task", "ls").stdout
        containerd.ctr("task", "resume", "t4")
        assert "RUNNING" in containerd.ctr("task", "ls").stdout
        assert "memory.usage_in_bytes" in containerd.ctr("task", "metrics", "t4").stdout
    finally:
        containerd.ctr("task", "kill", "-s", "KILL", "t4", check=False)
        wait_for(lambda: "STOPPED" in containerd.ctr("task", "ls").stdout
                 or "t4" not in containerd.ctr("task", "ls").stdout, what="t4 stopped")
        containerd.ctr("task", "rm", "t4", check=False)
        containerd.ctr("container", "rm", "t4", check=False)


def test_cri_pod_with_pycontain_runc_as_runtime_handler(containerd):
    import grpc  # test dependencies (pyproject's test extra): a missing one fails the test
    from cri_api.v1 import api_pb2 as pb, api_pb2_grpc as rpc
    service = rpc.RuntimeServiceStub(grpc.insecure_channel(f"unix://{containerd.sock}"))
    sandbox_config = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name="pod1", namespace="default", uid="u1"),
        linux=pb.LinuxPodSandboxConfig(
            cgroup_parent="pycontain-cri-test",
            security_context=pb.LinuxSandboxSecurityContext(
                namespace_options=pb.NamespaceOption(network=pb.NODE))))  # no CNI here
    sandbox = service.RunPodSandbox(pb.RunPodSandboxRequest(
        config=sandbox_config, runtime_handler="pycontain")).pod_sandbox_id
    container = None
    try:
        config = pb.ContainerConfig(metadata=pb.ContainerMetadata(name="app"),
                                    image=pb.ImageSpec(image="localhost/busybox:latest"),
                                    command=["sleep", "1000"])
        container = service.CreateContainer(pb.CreateContainerRequest(
            pod_sandbox_id=sandbox, config=config, sandbox_config=sandbox_config)).container_id
        service.StartContainer(pb.StartContainerRequest(container_id=container))
        result = service.ExecSync(pb.ExecSyncRequest(
            container_id=container, cmd=["sh", "-c", "echo from-exec; exit 5"], timeout=20))
        assert (result.stdout, result.exit_code) == (b"from-exec\n", 5)
        pids = {
            "app": json.loads(service.ContainerStatus(pb.ContainerStatusRequest(
                container_id=container, verbose=True)).info["info"])["pid"],
            "sandbox": json.loads(service.PodSandboxStatus(pb.PodSandboxStatusRequest(
                pod_sandbox_id=sandbox, verbose=True)).info["info"])["pid"]}
        for ns in ("ipc", "net"):  # the app joined its sandbox's namespaces
            assert os.stat(f"/proc/{pids['app']}/ns/{ns}").st_ino == \
                os.stat(f"/proc/{pids['sandbox']}/ns/{ns}").st_ino
        service.StopContainer(pb.StopContainerRequest(container_id=container, timeout=5))
        service.RemoveContainer(pb.RemoveContainerRequest(container_id=container))
        container = None
    finally:
        if container:
            service.RemoveContainer(pb.RemoveContainerRequest(container_id=container))
        service.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sandbox))
        service.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sandbox))
    assert not list(Path("/sys/fs/cgroup").glob("*/**/pycontain-cri-test/*"))
