"""The local image store.

Layout under root (default pycontain.paths.data_root()):

    blobs/sha256/<hex>      content-addressed blobs (manifests, configs,
                            compressed layers), verified before they appear
    layers/<diff_id hex>/   each layer unpacked once; shared, read-only
                            lower directories, never modified once there
    images.json             {"version": 1,
                             "images": {full name: record},
                             "layers": {diff_id: {"size": n, "blob": digest}}}
                            record = {"manifest_digest", "config_digest",
                                      "diff_ids", "created", "size"}
    store.lock              writers hold an exclusive flock on it

Readers (resolve, list) take no lock: every file a reader opens appears by an
atomic rename, complete. Writers (import, tag, remove) serialise on
store.lock, and on taking it remove '*.tmp-*' entries that a crashed writer
left. resolve() is on the hot path of `pycontain run`: it reads images.json
and one config blob, nothing else, and this module imports nothing heavy at
import time.
"""
import os

from pycontain import jsonio
from pycontain.errors import PycontainError
from pycontain.image import resolve_cache

_HEX = frozenset("0123456789abcdef")


def _is_id_prefix(text: str) -> bool:
    """12 to 64 lowercase hex digits: an image id or a prefix of one."""
    return 12 <= len(text) <= 64 and set(text) <= _HEX
_FORMAT_VERSION = 1


class Image:
    """A resolved image: what the runtime needs to build a rootfs.

    name:            full reference that matched ('docker.io/library/busybox:latest');
                     for a lookup by id, the image's first name (or the id if untagged)
    id:              config digest, 'sha256:<hex>'
    manifest_digest: 'sha256:<hex>'
    config:          the parsed image config JSON (dict)
    layer_dirs:      absolute paths of the unpacked layers, bottom layer first
    """

    __slots__ = ("name", "id", "manifest_digest", "config", "layer_dirs")

    def __init__(self, name, id, manifest_digest, config, layer_dirs):
        self.name = name
        self.id = id
        self.manifest_digest = manifest_digest
        self.config = config
        self.layer_dirs = layer_dirs

    def __repr__(self):
        return (f"Image(name={self.name!r}, id={self.id!r}, "
                f"manifest_digest={self.manifest_digest!r}, layers={len(self.layer_dirs)})")


class ImageSummary:
    """One image in list(): all its full names (sorted), id, created, size.

    created is the config's RFC 3339 'created' time (or the import time when
    the config has none); size is the total of its uncompressed layers."""

    __slots__ = ("names", "id", "manifest_digest", "created", "size")

    def __init__(self, names, id, manifest_digest, created, size):
        self.names = names
        self.id = id
        self.manifest_digest = manifest_digest
        self.created = created
        self.size = size

    def __repr__(self):
        return f"ImageSummary(names={self.names!r}, id={self.id!r}, size={self.size})"


def _digest_matches(images: dict, ref) -> list:
    """Names in images of ref's repository (and tag, if any) whose manifest
    digest is ref.digest."""
    repo = ref.repository
    by_digest = f"{repo}@{ref.digest}"  # the name of an image pulled by digest
    return sorted(key for key, record in images.items()
                  if (key == by_digest and ref.tag is None)
                  or (record["manifest_digest"] == ref.digest
                      and key.rpartition(":")[0] == repo
                      and (ref.tag is None or key == f"{repo}:{ref.tag}")))


class ImageStore:
    def __init__(self, root: str | None = None):
        if root is None:
            from pycontain import paths
            root = paths.data_root()
        self.root = os.path.abspath(root)
        self.blobs_dir = os.path.join(self.root, "blobs", "sha256")
        self.layers_dir = os.path.join(self.root, "layers")
        self.images_file = os.path.join(self.root, "images.json")
        self.lock_file = os.path.join(self.root, "store.lock")

    # -- paths ---------------------------------------------------------------
    def blob_path(self, digest: str) -> str:
        return os.path.join(self.blobs_dir, digest.partition(":")[2])

    def layer_dir(self, diff_id: str) -> str:
        return os.path.join(self.layers_dir, diff_id.partition(":")[2])

    # -- reading -------------------------------------------------------------
    def _load(self) -> dict:
        try:
            with open(self.images_file, "rb") as f:
                data = jsonio.loads(f.read())
        except FileNotFoundError:
            return {"version": _FORMAT_VERSION, "images": {}, "layers": {}}
        except (OSError, ValueError) as e:
            raise PycontainError(f"image store {self.images_file} is unreadable ({e})") from None
        if not isinstance(data, dict) or data.get("version") != _FORMAT_VERSION:
            raise PycontainError(f"image store {self.images_file} has an unknown format")
        data.setdefault("images", {})
        data.setdefault("layers", {})
        return data

    def _lookup(self, images: dict, ref: str):
        """(name or None, record) for ref, else PycontainError 'image not known'."""
        from pycontain.image import reference  # lazily: it compiles regexes
        if ref.startswith("sha256:"):
            found = self._by_id(images, ref[len("sha256:"):], ref)
        else:
            try:
                parsed = reference.parse(ref)
            except PycontainError:
                if not _is_id_prefix(ref):
                    raise
                parsed = None
            found = self._by_name(images, ref, parsed) if parsed else None
            if found is None and _is_id_prefix(ref):
                found = self._by_id(images, ref, ref)
        if found is None:
            raise PycontainError(f"image not known: {ref}{self._empty_hint(images)}")
        return found

    def _empty_hint(self, images: dict) -> str:
        """Why a rootless user's first `run busybox` finds nothing."""
        if images or os.geteuid() == 0:
            return ""
        return (f" (this user's image store {self.root} is empty: pull or load an image, "
                "or run ./install.sh through sudo to import the bundled busybox and python "
                "for you too)")

    @staticmethod
    def _by_name(images, text, parsed):
        from pycontain.image import reference  # lazily: it compiles regexes
        candidates = [parsed]  # docker's rule first: NAME is docker.io/library/NAME
        if not parsed.qualified:
            try:  # then podman's local images, named localhost/NAME
                candidates.append(reference.parse("localhost/" + text))
            except PycontainError:
                pass  # e.g. too long with the prefix
        for cand in candidates:
            if cand.digest is None:
                record = images.get(cand.full)
                if record is not None:
                    return cand.full, record
                continue
            keys = _digest_matches(images, cand)
            if keys:
                return keys[0], images[keys[0]]
        return None

    @staticmethod
    def _by_id(images, prefix, ref):
        if not _is_id_prefix(prefix):
            return None
        full = "sha256:" + prefix
        matches = {}
        for key in sorted(images):
            cid = images[key]["config_digest"]
            if cid.startswith(full):
                matches.setdefault(cid, (None, images[key]))
        if len(matches) > 1:
            raise PycontainError(f"image id prefix {ref!r} is ambiguous: it matches "
                                 f"{len(matches)} images")
        return next(iter(matches.values()), None)

    def _image(self, name, record) -> Image:
        config_digest = record["config_digest"]
        try:
            with open(self.blob_path(config_digest), "rb") as f:
                config = jsonio.loads(f.read())
        except (OSError, ValueError) as e:
            raise PycontainError(f"image {name or config_digest}: config blob "
                                 f"{config_digest} unreadable ({e}); re-import the image") from None
        return Image(name=name, id=config_digest, manifest_digest=record["manifest_digest"],
                     config=config, layer_dirs=[self.layer_dir(d) for d in record["diff_ids"]])

    def resolve(self, ref: str) -> Image:
        """The image named by ref: a name (a short name is docker.io's
        library/NAME, else localhost/NAME when only that exists), a name@digest, or
        an image id / unique id prefix of 12+ hex digits, with or without
        'sha256:'. Answers are cached (resolve_cache) until images.json changes."""
        cached = resolve_cache.get(self.root, self.images_file, ref)
        if cached is not None:
            return Image(*cached)
        images = self._load()["images"]
        name, record = self._lookup(images, ref)
        if name is None:
            names = sorted(k for k, r in images.items()
                           if r["config_digest"] == record["config_digest"])
            name = names[0] if names else record["config_digest"]
        image = self._image(name, record)
        resolve_cache.put(self.root, self.images_file, ref, (
            image.name, image.id, image.manifest_digest, image.config, image.layer_dirs))
        return image

    def list(self) -> list:
        """One ImageSummary per image id, newest first."""
        images = self._load()["images"]
        by_id = {}
        for key in sorted(images):
            record = images[key]
            cid = record["config_digest"]
            if cid in by_id:
                by_id[cid].names.append(key)
            else:
                by_id[cid] = ImageSummary([key], cid, record["manifest_digest"],
                                          record.get("created", ""), record.get("size", 0))
        return sorted(by_id.values(), key=lambda s: (s.created, s.id), reverse=True)

    def exists(self, ref: str) -> bool:
        try:
            self._lookup(self._load()["images"], ref)
        except PycontainError:
            return False
        return True

    # -- writing -------------------------------------------------------------
    def _locked(self):
        from pycontain.image import _storeio
        return _storeio.StoreLock(self)

    def _save(self, data: dict) -> None:
        from pycontain.image import _storeio
        _storeio.atomic_write_json(self.images_file, data)

    def tag(self, ref: str, new_name: str) -> str:
        """Give the image ref the additional name new_name (normalised;
        ':latest' when it has no tag). Returns the new full name."""
        from pycontain.image import reference  # lazily: it compiles regexes
        new = reference.parse(new_name)
        if new.digest is not None:
            raise PycontainError(f"cannot tag with a digest: {new_name}")
        with self._locked():
            data = self._load()
            _, record = self._lookup(data["images"], ref)
            data["images"][new.full] = dict(record)
            self._save(data)
        return new.full

    def remove(self, ref: str) -> list:
        """Untag: remove the name ref from images.json, or, when ref is an
        image id, every name of that image. Returns the removed full names.
        Blobs and unpacked layers stay in the store (another image may share
        them); this method does not delete any of them."""
        from pycontain.image import reference  # lazily: it compiles regexes
        with self._locked():
            data = self._load()
            images = data["images"]
            name, record = self._lookup(images, ref)
            if name is not None:
                removed = [name]
                if "@" in ref:  # every tag of that repository with that digest
                    key = reference.parse(name)
                    removed = sorted(set(_digest_matches(images, reference.Reference(
                        key.domain, key.path, None, record["manifest_digest"]))) | {name})
            else:
                removed = sorted(k for k, r in images.items()
                                 if r["config_digest"] == record["config_digest"])
            for key in removed:
                del images[key]
            self._save(data)
        return removed

    def import_oci_layout(self, directory: str, tag: str | None = None,
                          name: str | None = None) -> Image:
        """Import one image from an OCI layout directory (see oci_layout.py
        for which one is chosen) and record it as name (default
        'localhost/<directory basename>:<tag>'); a name without a tag takes
        the image's tag, or 'latest'."""
        from pycontain.image import reference  # lazily: it compiles regexes
        from pycontain.image import oci_layout

        layout = oci_layout.OCILayout(directory)
        selection = layout.select(tag)
        image_tag = selection.tag if selection.tag and reference.is_valid_tag(selection.tag) \
            else reference.DEFAULT_TAG
        if name is None:
            base = os.path.basename(layout.directory).lower()
            try:
                ref = reference.parse(f"localhost/{base}:{image_tag}")
            except PycontainError as e:
                raise PycontainError(f"{e} (the name comes from the directory name; "
                                     "give the image a name)") from None
        else:
            ref = reference.parse(name, default_tag=None)
            if ref.digest is not None:
                raise PycontainError(f"an imported image cannot be named by a digest: {name}")
            if ref.tag is None:
                ref = ref.with_tag(image_tag)
        return self.add_image(ref.full, selection.manifest_digest, selection.manifest_bytes,
                              selection.manifest, layout.read_blob, layout.open_blob)

    def add_image(self, full_name: str, manifest_digest: str, manifest_bytes: bytes,
                  manifest, read_small_blob, open_blob, prepared=None) -> Image:
        """Store one image from any source and name it full_name.

        manifest: a verified manifest.Manifest parsed from manifest_bytes;
        read_small_blob(desc, limit) -> verified bytes (for the config);
        open_blob(desc) -> raw binary stream of a layer blob, verified here
        while copied. Nothing becomes visible unless everything verified:
        blobs and layers are prepared under temporary names and renamed into
        place, then images.json is updated, all under the store lock.
        prepared: {diff_id: (directory, size)} of layers the caller already
        unpacked and verified (a pull does so while it downloads)."""
        from pycontain.image import _storeio
        return _storeio.add_image(self, full_name, manifest_digest, manifest_bytes,
                                  manifest, read_small_blob, open_blob, prepared)
