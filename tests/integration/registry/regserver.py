"""Start Debian's docker-registry on 127.0.0.1 for tests and benchmarks,
and build images for it with umoci and skopeo."""
import os
import shutil
import socket
import subprocess
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    """A docker-registry process on 127.0.0.1:<free port>, storage in workdir.
    With users={name: password}, it requires htpasswd (basic) auth."""

    def __init__(self, workdir, users=None):
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        auth = ""
        if users:
            htpasswd = os.path.join(self.workdir, "htpasswd")
            with open(htpasswd, "w") as f:
                for user, password in users.items():
                    f.write(subprocess.run(["htpasswd", "-Bbn", user, password], check=True,
                                           capture_output=True, text=True).stdout.strip() + "\n")
            auth = f"auth:\n  htpasswd:\n    realm: pycontain-test\n    path: {htpasswd}\n"
        config = os.path.join(self.workdir, "config.yml")
        with open(config, "w") as f:
            f.write("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                    f"storage:\n  filesystem:\n    rootdirectory: {self.workdir}/storage\n"
                    f"  delete:\n    enabled: true\nhttp:\n  addr: {self.host}\n{auth}")
        self.log = open(os.path.join(self.workdir, "registry.log"), "wb")
        self.proc = subprocess.Popen(["docker-registry", "serve", config], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2)
                break
            except urllib.error.HTTPError:
                break  # 401 with auth: it is up
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"docker-registry did not start: {self.logtext()}")
                time.sleep(0.05)

    def logtext(self) -> str:
        with open(os.path.join(self.workdir, "registry.log"), errors="replace") as f:
            return f.read()[-2000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def storage_blob(self, digest: str) -> str:
        hexpart = digest.partition(":")[2]
        return os.path.join(self.workdir, "storage", "docker", "registry", "v2", "blobs",
                            "sha256", hexpart[:2], hexpart, "data")


def run(*argv, **kwargs) -> str:
    out = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=300,
                         **kwargs)
    if out.returncode != 0:
        raise RuntimeError(f"{argv}: {out.stderr}")
    return out.stdout


def skopeo_copy(src: str, dest: str, *extra) -> None:
    run("skopeo", "copy", "--quiet", "--insecure-policy", "--src-tls-verify=false",
        "--dest-tls-verify=false", *extra, src, dest)


def umoci_image(layout: str, tag: str, layers, config=()) -> None:
    """An image in the OCI layout (created if missing) from layers: each a
    directory to insert at /, or ('whiteout', PATH), or ('opaque', DIR, PATH)."""
    if not os.path.exists(os.path.join(layout, "oci-layout")):
        run("umoci", "init", "--layout", layout)
    run("umoci", "new", "--image", f"{layout}:{tag}")
    for layer in layers:
        if isinstance(layer, tuple) and layer[0] == "whiteout":
            run("umoci", "insert", "--image", f"{layout}:{tag}", "--whiteout", layer[1])
        elif isinstance(layer, tuple) and layer[0] == "opaque":
            run("umoci", "insert", "--image", f"{layout}:{tag}", "--opaque", layer[1], layer[2])
        else:
            run("umoci", "insert", "--image", f"{layout}:{tag}", layer, "/")
    if config:
        run("umoci", "config", "--image", f"{layout}:{tag}", *config)
    run("umoci", "gc", "--layout", layout)


def busybox_dir(path) -> str:
    """A directory with a static busybox at bin/busybox and bin/sh, cat, ls links."""
    bindir = os.path.join(path, "bin")
    os.makedirs(bindir, exist_ok=True)
    shutil.copy2("/bin/busybox", os.path.join(bindir, "busybox"))
    for applet in ("sh", "cat", "ls", "stat", "test", "echo", "readlink"):
        os.symlink("busybox", os.path.join(bindir, applet))
    return str(path)
