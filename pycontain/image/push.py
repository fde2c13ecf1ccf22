"""`pycontain push`: an image from the store to a registry.

The stored manifest is sent byte for byte, so the registry's digest of it is
the local one. Its config and layer blobs go first, in parallel (upload.py:
skipped when the repository has them, mounted when another repository of
the registry that the store knows an image of has them, else uploaded);
the manifest last, under the destination's tag (or its digest). Nothing is
written locally.
"""
import hashlib
import os
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

from pycontain.errors import PycontainError
from pycontain.image import auth, manifest as mf, reference

JOBS = 4
MIN_CHUNK = 64 << 10


class Pushed:
    __slots__ = ("ref", "digest", "size")

    def __init__(self, ref, digest: str, size: int):
        self.ref, self.digest, self.size = ref, digest, size


def destination(store, source: str, dest: str | None):
    """(the Reference to push to, the image's store record)."""
    name, record = store._lookup(store._load()["images"], source)
    text = dest if dest is not None else name
    if text is None:
        raise PycontainError(f"{source} is an image id: give a destination, "
                             "pycontain push IMAGE REGISTRY/NAME[:TAG]")
    if text.startswith("docker://"):
        text = text[len("docker://"):]
    ref = reference.parse(text)
    if ref.digest is not None and ref.digest != record["manifest_digest"]:
        raise PycontainError(f"cannot push {source} as {text}: its manifest digest is "
                             f"{record['manifest_digest']}")
    return ref, record


def _read_manifest(store, digest: str) -> bytes:
    try:
        with open(store.blob_path(digest), "rb") as f:
            data = f.read(mf.MAX_MANIFEST_SIZE + 1)
    except FileNotFoundError:
        data = b""
    if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        raise PycontainError(f"manifest {digest} is missing from the store or damaged; "
                             "pull or load the image again")
    return data


def _mount_sources(store, ref, wanted: set) -> dict:
    """{blob digest: path of another repository on ref's registry that the
    store names an image of holding that blob}."""
    found, seen = {}, set()
    for summary in store.list():
        others = sorted(r.path for r in map(reference.parse, summary.names)
                        if r.domain == ref.domain and r.path != ref.path)
        if not others or summary.manifest_digest in seen:
            continue
        seen.add(summary.manifest_digest)
        try:
            doc = mf.load_json(_read_manifest(store, summary.manifest_digest), "manifest")
            man = mf.Manifest(doc)
        except PycontainError:
            continue
        for desc in [man.config] + man.layers:
            if desc.digest in wanted:
                found.setdefault(desc.digest, others[0])
    return found


def push(store, source: str, dest: str | None = None, *, tls_verify: bool = True,
         chunk_size: int = 0, progress=None, jobs: int = JOBS) -> Pushed:
    """Push the stored image source to dest (default: source's own name)."""
    from pycontain.image import progress as progress_mod
    from pycontain.image.upload import Uploads

    if chunk_size and chunk_size < MIN_CHUNK:
        raise PycontainError(f"chunk size {chunk_size} is too small (at least {MIN_CHUNK})")
    progress = progress or progress_mod.Silent()
    ref, record = destination(store, source, dest)
    data = _read_manifest(store, record["manifest_digest"])
    manifest = mf.Manifest(mf.load_json(data, f"manifest {record['manifest_digest']}"))
    blobs = list({d.digest: d for d in manifest.layers + [manifest.config]}.values())
    for desc in blobs:
        try:
            size = os.path.getsize(store.blob_path(desc.digest))
        except FileNotFoundError:
            size = -1
        if size != desc.size:
            raise PycontainError(f"blob {desc.digest} is missing from the store or damaged; "
                                 "pull or load the image again")
    sources = _mount_sources(store, ref, {d.digest for d in blobs})
    repo = Uploads(ref, tls_verify=tls_verify, credentials=auth.lookup(ref.domain),
                   token_realms=auth.token_realms(ref.domain))
    try:
        _push_blobs(store, repo, blobs, sources, chunk_size, progress, jobs)
        repo.put_manifest(ref.tag or ref.digest, data, manifest.media_type,
                          record["manifest_digest"])
    finally:
        repo.session.close()
        progress.close()
    return Pushed(ref, record["manifest_digest"], len(data))


def _push_blobs(store, repo, blobs, sources, chunk_size, progress, jobs) -> None:
    def one(desc):
        bar = progress.blob(desc)
        try:
            if repo.exists(desc):
                return bar.done("already exists")
            location, minimum = repo.start(desc, sources.get(desc.digest))
            if location is None:
                return bar.done(f"mounted from {sources[desc.digest]}")
            try:
                f = open(store.blob_path(desc.digest), "rb")
            except FileNotFoundError:  # removed (rmi) since the push began
                raise PycontainError(f"blob {desc.digest} is missing from the store") from None
            with f:
                repo.upload(desc, f, location, chunk_size and max(chunk_size, minimum), bar)
            bar.done("pushed")
        finally:
            repo.session.close()  # this worker thread's connections

    pool = ThreadPoolExecutor(max_workers=max(1, min(jobs, len(blobs))))
    futures = [pool.submit(one, desc) for desc in blobs]
    try:
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in done:
            if future.exception() is not None:
                raise future.exception()
    except BaseException:
        repo.cancelled.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
