"""The corpus: each Dockerfile under corpus/ built by `pycontain build` and
by `buildah bud --layers` (Debian's buildah, the reference builder here)
gives the same files and the same config. Both images are exported as OCI
archives and unpacked by umoci; the file manifests compare path, type,
mode, owner, size, sha256, link target and xattrs; the configs compare
the fields a Dockerfile sets (buildah's own version label aside; buildah's
from `buildah inspect`, as its OCI export drops the docker-only Healthcheck
and OnBuild). buildah 1.28 leaves the empty files it mounted /etc/hosts,
/etc/hostname and /etc/resolv.conf on in a RUN step's layer when the base
image lacks them; docker does not, nor does pycontain: those are ignored."""
import hashlib
import json
import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "Dockerfile").is_file())
BUILDAH_STUBS = ("etc/hosts", "etc/hostname", "etc/resolv.conf")
FIELDS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes",
          "Labels", "StopSignal", "Healthcheck", "OnBuild", "Shell")


def _run(*args, **kwargs):
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                            timeout=300, **kwargs)
    assert result.returncode == 0, f"{args}: {result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def buildah(engine_env, tmp_path_factory):
    """buildah on a private vfs store holding the test session's busybox."""
    if shutil.which("buildah") is None or shutil.which("umoci") is None:
        pytest.fail("the corpus test needs buildah and umoci (test.sh installs them)")
    root = tmp_path_factory.mktemp("buildah")
    base = ["buildah", "--root", root / "root", "--runroot", root / "run",
            "--storage-driver", "vfs"]
    archive = root / "busybox.tar"
    _run(engine_env and os.environ.get("PYCONTAIN_BIN") or
         Path(__import__("sys").executable).parent / "pycontain",
         "save", "-o", archive, "busybox", env=engine_env)
    _run(*base, "pull", "-q", f"docker-archive:{archive}")
    yield base
    subprocess.run([*base, "rmi", "-a", "-f"], capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


def _unpack(archive: Path, dest: Path):
    """umoci's rootfs and the image config of an OCI archive."""
    layout = dest / "layout"
    layout.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(layout)
    index = json.loads((layout / "index.json").read_text())
    entry = index["manifests"][0]
    tag = entry.get("annotations", {}).get("org.opencontainers.image.ref.name", "latest")
    _run("umoci", "unpack", "--image", f"{layout}:{tag}", dest / "bundle")
    blob = lambda digest: json.loads((layout / "blobs" / "sha256" / digest[7:]).read_text())
    config = blob(blob(entry["digest"])["config"]["digest"])
    return dest / "bundle" / "rootfs", config


def _manifest(rootfs: Path) -> dict:
    files = {}
    for top, dirs, names in os.walk(rootfs):
        dirs.sort()
        for name in sorted(dirs + names):
            path = os.path.join(top, name)
            st = os.lstat(path)
            row = [stat.filemode(st.st_mode), st.st_uid, st.st_gid]
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    row += [st.st_size, hashlib.sha256(f.read()).hexdigest()[:16]]
            elif stat.S_ISLNK(st.st_mode):
                row.append(os.readlink(path))
            if not stat.S_ISLNK(st.st_mode):
                row += sorted(x for x in os.listxattr(path) if x != "security.selinux")
            files[os.path.relpath(path, rootfs)] = row
    return files


def _fields(config: dict) -> dict:
    cfg = config.get("config") or {}
    found = {k: cfg.get(k) or None for k in FIELDS}
    labels = {k: v for k, v in (cfg.get("Labels") or {}).items() if k != "io.buildah.version"}
    found["Labels"] = labels or None
    return found


@pytest.mark.parametrize("case", CASES)
def test_corpus_matches_buildah(pc, buildah, tmp_path, case):
    context = CORPUS / case
    tag = f"localhost/corpus-{case}:latest"
    built = pc("build", "--network", "none", "-q", "-t", tag, context, timeout=120)
    assert built.returncode == 0, built.stderr
    pc.out("save", "--format", "oci-archive", "-o", tmp_path / "ours.tar", tag)
    _run(*buildah, "bud", "--layers", "--format", "docker", "--isolation", "chroot", "-q",
         "-t", tag, context, cwd=context)
    _run(*buildah, "push", tag, f"oci-archive:{tmp_path / 'theirs.tar'}:latest")
    ours, our_config = _unpack(tmp_path / "ours.tar", tmp_path / "ours")
    theirs, their_config = _unpack(tmp_path / "theirs.tar", tmp_path / "theirs")
    a, b = _manifest(ours), _manifest(theirs)
    for stub in BUILDAH_STUBS:
        if stub not in a and b.get(stub, [None, 0, 0, 0])[3] == 0:
            b.pop(stub, None)
    diff = {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
    assert diff == {}
    their_config = json.loads(_run(*buildah, "inspect", "--type", "image", tag))["Docker"]
    assert _fields(our_config) == _fields(their_config)
    pc.out("rmi", tag)
