"""`pycontain pull`: an image from a registry into the store.

Resolve the reference to a manifest (following an index or manifest list to
the wanted platform), fetch the config, then download the layer blobs in
parallel and unpack each as soon as it arrives (staging.py); the store lock
is taken only at the end, to rename everything into place and name the
image (store.add_image). Interrupted at any point, a pull leaves nothing
that a later command trusts: only complete, verified blobs ever enter
blobs/, and the next pull reuses them.
"""
import platform as _platform
from concurrent.futures import ThreadPoolExecutor, wait, FIRST_EXCEPTION

from pycontain.errors import PycontainError
from pycontain.image import auth, manifest as mf, reference
from pycontain.image.registry import Repository
from pycontain.image.staging import PullArea

JOBS = 4
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
         "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


def parse_platform(text: str | None) -> tuple:
    """('linux', 'amd64', variant or None) from 'os/arch[/variant]'; the
    host's linux platform when text is empty."""
    if not text:
        machine = _platform.machine()
        return "linux", _ARCH.get(machine, machine), None
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise PycontainError(f"invalid platform {text!r}: use OS/ARCH[/VARIANT]")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def store_name(ref) -> str:
    """The store's name for a pulled reference: repo:tag, or repo@digest."""
    return f"{ref.repository}:{ref.tag}" if ref.tag else f"{ref.repository}@{ref.digest}"


def resolve(repo: Repository, ref, wanted: tuple):
    """(verified manifest Fetched, mf.Manifest) for ref on the wanted platform."""
    fetched = repo.manifest(ref.digest or ref.tag, expected=ref.digest)
    if fetched.kind == "index":
        desc = mf.choose_platform(mf.index_entries(fetched.doc), *wanted)
        fetched = repo.manifest(desc.digest, expected=desc.digest)
        if fetched.kind != "manifest":
            raise PycontainError(f"{ref.familiar}: an image index inside an image index "
                                 "is not supported")
    return fetched, mf.Manifest(fetched.doc, fetched.media_type)


def pull(store, text: str, *, platform: str | None = None, tls_verify: bool = True,
         progress=None, jobs: int = JOBS):
    """Pull text (a reference) into store; returns the stored image."""
    from pycontain.image import progress as progress_mod

    progress = progress or progress_mod.Silent()
    wanted = parse_platform(platform)
    ref = reference.parse(text)
    repo = Repository(ref, tls_verify=tls_verify, credentials=auth.lookup(ref.domain),
                      token_realms=auth.token_realms(ref.domain))
    try:
        fetched, manifest = resolve(repo, ref, wanted)
        config_bytes = _config(store, repo, manifest.config)
        config = mf.load_json(config_bytes, f"image config {manifest.config.digest}")
        diff_ids = mf.diff_ids(config)
        if len(diff_ids) != len(manifest.layers):
            raise PycontainError(f"{ref.familiar}: the manifest has {len(manifest.layers)} "
                                 f"layers but the config lists {len(diff_ids)} diff_ids")
        with PullArea(store) as area:
            prepared = _fetch_layers(area, repo, manifest.layers, diff_ids, progress, jobs)
            return store.add_image(store_name(ref), fetched.digest, fetched.data, manifest,
                                   lambda desc, limit: config_bytes, repo.open_blob, prepared)
    finally:
        repo.session.close()
        progress.close()


def _config(store, repo, desc) -> bytes:
    """The config blob: from the store when it has it, else fetched."""
    import hashlib
    try:
        with open(store.blob_path(desc.digest), "rb") as f:
            data = f.read(mf.MAX_CONFIG_SIZE + 1)
        if "sha256:" + hashlib.sha256(data).hexdigest() == desc.digest:
            return data
    except FileNotFoundError:
        pass
    return repo.read_blob(desc, mf.MAX_CONFIG_SIZE)


def _fetch_layers(area, repo, layers, diff_ids, progress, jobs) -> dict:
    """{diff_id: (directory, size)} for the layers not yet in the store."""
    def one(desc, diff_id):
        blob = area.fetch_blob(desc, repo.open_blob, progress.blob(desc))
        try:
            return diff_id, area.prepare_layer(diff_id, blob)
        finally:
            repo.session.close()  # this worker thread's connections

    unique = {}
    for desc, diff_id in zip(layers, diff_ids):
        unique.setdefault(diff_id, desc)
    pool = ThreadPoolExecutor(max_workers=max(1, min(jobs, len(unique) or 1)))
    futures = [pool.submit(one, desc, diff_id) for diff_id, desc in unique.items()]
    try:
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in done:
            if future.exception() is not None:
                raise future.exception()
        return {d: r for d, r in (f.result() for f in futures) if r is not None}
    except BaseException:
        area.cancelled = True
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
