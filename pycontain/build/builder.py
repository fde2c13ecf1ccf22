"""`pycontain build`: run a Dockerfile's needed stages step by step.

Each stage's state is an image config, its layers (diff_ids, all in the
store) and a cache key chained from its base. Config-only instructions
(instructions.HANDLERS) change the config; RUN, COPY, ADD and a WORKDIR
that must create its directory make a layer, or reuse one from the cache
(cache.py) when their key is known and the layer is still in the store.
"""
import copy
import json
import os
import time

from pycontain.build import cache, stages as st
from pycontain.build.instructions import HANDLERS, command
from pycontain.build.merged import Merged
from pycontain.build.parser import DockerfileError
from pycontain.build.substitution import Lexer, SubstitutionError
from pycontain.errors import PycontainError
from pycontain.oci.defaults import DEFAULT_PATH
from pycontain.record import Record


class BuildOptions(Record):
    FIELDS = {"context": ".", "dockerfile": None, "tags": [], "build_args": {},
              "target": None, "no_cache": False, "network": "bridge", "platform": None,
              "quiet": False, "rewrite_timestamp": False, "epoch": None,
              "secrets": {}}
    __slots__ = tuple(FIELDS)


class StageState:
    def __init__(self, image: dict, diff_ids: list, key: str, build_args, global_args):
        self.image = image
        self.cfg = image.setdefault("config", {}) or {}
        image["config"] = self.cfg
        self.diff_ids = diff_ids
        self.history = image.pop("history", None) or []
        self.key = key
        self.shell = list(self.cfg.get("Shell") or ["/bin/sh", "-c"])
        self.cmd_set = False
        self.args = {}
        self.last_created = None  # seconds of the newest layer: empty steps and the image
        self.build_args = build_args
        self.global_args = global_args

    def env(self) -> dict:
        values = {k: v for k, v in self.args.items() if v is not None}
        values.update(e.partition("=")[::2] for e in self.cfg.get("Env") or [])
        return values

    def arg_env(self) -> list:
        env_keys = {e.partition("=")[0] for e in self.cfg.get("Env") or []}
        return sorted(f"{k}={v}" for k, v in self.args.items()
                      if v is not None and k not in env_keys)


def _iso(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _seconds(text):
    """An RFC 3339 time as whole seconds, or None."""
    import datetime
    try:
        return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")[:19] + "+00:00")
                   .timestamp())
    except (AttributeError, ValueError):
        return None


class Builder:
    def __init__(self, store, opts: BuildOptions, dockerfile, out):
        self.store = store
        self.opts = opts
        self.df = dockerfile
        self.out = out  # progress lines; None with -q
        self.results = {}
        self.step_no = 0
        self.steps = 0
        self.work = None

    # -- output -------------------------------------------------------------
    def say(self, text: str) -> None:
        if self.out is not None:
            self.out.write(text + "\n")
            self.out.flush()

    def now(self) -> int:
        return self.opts.epoch if self.opts.epoch is not None else int(time.time())

    # -- stages -------------------------------------------------------------
    def build(self, work_dir: str):
        self.work = work_dir
        platform = self.opts.platform or "linux/amd64"
        gargs = st.global_args(self.df, self.opts.build_args, platform)
        all_stages = st.split(self.df, gargs)
        chosen = st.needed(all_stages, self.opts.target, self.df, gargs)
        self.steps = sum(1 + len(s.instructions) for s in chosen)
        for stage in chosen:
            self.results[stage.index] = self.run_stage(stage, all_stages, gargs)
        return self.results[chosen[-1].index]

    def _base(self, stage, all_stages, gargs) -> StageState:
        parent = st.find(all_stages, stage.base, stage.index)
        if parent is not None:
            done = self.results[parent.index]
            image = copy.deepcopy(done.image)
            image["history"] = copy.deepcopy(done.history)
            state = StageState(image, list(done.diff_ids), done.key, self.opts.build_args, gargs)
            state.last_created = done.last_created
            return state
        if stage.base == "scratch":
            image = {"architecture": "amd64", "os": "linux",  # docker's PATH for scratch
                     "config": {"Env": ["PATH=" + DEFAULT_PATH[5:]]}}
            return StageState(image, [], cache.chain("scratch"), self.opts.build_args, gargs)
        image = self.resolve(stage.base)
        config = copy.deepcopy(image.config)
        diff_ids = list((config.pop("rootfs", None) or {}).get("diff_ids") or [])
        for stale in ("container", "container_config", "docker_version"):  # the base's build
            config.pop(stale, None)
        state = StageState(config, diff_ids, cache.chain("from", image.id),
                           self.opts.build_args, gargs)
        state.last_created = _seconds(config.pop("created", None))
        return state

    def resolve(self, ref: str):
        try:
            return self.store.resolve(ref)
        except PycontainError as exc:
            from pycontain.image import reference
            if not str(exc).startswith("image not known") or \
                    not reference.names_a_registry(ref):  # run's rule: a typo never connects
                raise
        import sys
        from pycontain.image import progress
        from pycontain.image.pull import pull
        pull(self.store, ref, progress=progress.for_stream(sys.stderr, self.out is None))
        return self.store.resolve(ref)

    def run_stage(self, stage, all_stages, gargs) -> StageState:
        self.step_no += 1
        self.say(f"STEP {self.step_no}/{self.steps}: {stage.from_inst.original}")
        state = self._base(stage, all_stages, gargs)
        triggers = state.cfg.pop("OnBuild", None) or []
        from pycontain.build.parser import parse
        for text in triggers:
            for inst in parse(text, f"{self.df.name} (ONBUILD of {stage.base})").instructions:
                self.step(state, inst, all_stages, stage)
        for inst in stage.instructions:
            self.step_no += 1
            self.say(f"STEP {self.step_no}/{self.steps}: {inst.original}")
            self.step(state, inst, all_stages, stage)
        return state

    # -- steps --------------------------------------------------------------
    def step(self, state, inst, all_stages, stage) -> None:
        lex = Lexer(state.env(), self.df.escape)
        try:
            if inst.cmd in HANDLERS:
                HANDLERS[inst.cmd](state, inst, lex)
                # the arg values count where they are used (RUN's env, expansions)
                state.key = cache.chain(state.key, inst.cmd, state.cfg, state.shell)
                self.history(state, f"{inst.cmd.upper()} {inst.args}", empty=True)
            elif inst.cmd == "workdir":
                self.workdir(state, inst, lex)
            elif inst.cmd == "run":
                self.run(state, inst)
            else:
                self.copy(state, inst, lex, all_stages, stage)
        except (DockerfileError, KeyboardInterrupt):
            raise
        except SubstitutionError as exc:
            raise self.df.error(inst.line, str(exc)) from None
        except PycontainError as exc:
            raise PycontainError(f"{self.df.name}:{inst.line}: {inst.cmd.upper()}: {exc}",
                                 exc.code) from None
        except OSError as exc:
            from pycontain.errors import from_disk
            why = from_disk(exc) or f"{exc.strerror or exc}" + \
                (f": {exc.filename}" if exc.filename else "")
            raise PycontainError(f"{self.df.name}:{inst.line}: {inst.cmd.upper()}: {why}") \
                from None

    def history(self, state, created_by: str, empty: bool, created=None) -> None:
        """An empty step is dated with the newest layer, so a build whose
        steps all come from the cache gives the same image id."""
        if self.opts.epoch is not None:
            created = self.opts.epoch
        elif created is None:
            created = state.last_created if state.last_created is not None else self.now()
        state.last_created = created
        entry = {"created": _iso(created),
                 "created_by": created_by}
        if empty:
            entry["empty_layer"] = True
        state.history.append(entry)

    def layer_dirs(self, state) -> list:
        return [self.store.layer_dir(d) for d in state.diff_ids]

    def layer_step(self, state, key: str, created_by: str, make) -> None:
        """Reuse the layer cached under key, or make(writer) one."""
        if self.opts.rewrite_timestamp:  # the same files, other mtimes: another layer
            key = cache.chain(key, "rewrite-timestamp", self.opts.epoch)
        entry = None if self.opts.no_cache else cache.get(self.store, key)
        if entry is not None:
            self.say("--> Using cache " + key.partition(":")[2][:12])
            diff_id, created = entry["diff_id"], entry["created"]
        else:
            from pycontain.build.layer import LayerWriter
            from pycontain.image._storeio import add_layer
            path = os.path.join(self.work, "layer.tar")
            writer = LayerWriter(path, self.opts.epoch if self.opts.rewrite_timestamp else None)
            try:
                make(writer)
            finally:
                diff_id, _ = writer.close()
            add_layer(self.store, path, diff_id)
            os.unlink(path)
            created = self.now()
            cache.put(self.store, key, {"diff_id": diff_id, "created": created})
            self.say("--> " + key.partition(":")[2][:12])
        state.diff_ids.append(diff_id)
        state.key = key
        self.history(state, created_by, empty=False, created=created)

    def workdir(self, state, inst, lex) -> None:
        import posixpath
        path = lex.word(inst.args)
        if not path:
            raise PycontainError("WORKDIR needs a path")
        path = posixpath.normpath(posixpath.join(state.cfg.get("WorkingDir") or "/", path))
        state.cfg["WorkingDir"] = path
        merged = Merged(self.layer_dirs(state))
        if path == "/" or merged.lookup(path) is not None:
            state.key = cache.chain(state.key, "workdir", path)
            self.history(state, f"WORKDIR {path}", empty=True)
            return
        from pycontain.build.copystep import Item, write
        from pycontain.userdb import resolve_user
        ids = resolve_user(state.cfg.get("User") or "", self.layer_dirs(state))  # as BuildKit
        parts = path.strip("/").split("/")
        items = [Item("/".join(parts[:i]), mode=0o40755, uid=ids["uid"], gid=ids["gid"])
                 for i in range(1, len(parts) + 1)
                 if merged.lookup("/".join(parts[:i])) is None]
        self.layer_step(state, cache.chain(state.key, "workdir", path, ids["uid"], ids["gid"]),
                        f"WORKDIR {path}",
                        lambda writer: write(items, writer, self.now()))

    def run(self, state, inst) -> None:
        from pycontain.build.runstep import run_step
        argv = command(state, inst)
        if inst.heredocs:  # `RUN <<EOF` alone runs the document as the script
            from pycontain.build.parser import HEREDOC
            if len(inst.heredocs) == 1 and HEREDOC.fullmatch(inst.args.strip()):
                argv = list(state.shell) + [inst.heredocs[0].content]
            else:  # the shell reads the documents itself
                argv = list(state.shell) + [inst.args + "\n" + "".join(
                    h.content + h.name + "\n" for h in inst.heredocs)]
        network = self.opts.network
        from pycontain.build import mounts as run_mounts
        wanted = []
        for name, value in inst.flags:
            if name == "network" and value in ("none", "host", "default"):
                network = self.opts.network if value == "default" else value
            elif name == "mount":
                wanted.append(run_mounts.parse(value, state.cfg.get("WorkingDir") or "/"))
            else:
                raise PycontainError(f"RUN --{name}{'=' + value if value else ''} is not "
                                     "supported")
        cfg = dict(state.cfg, Env=state.arg_env() + list(state.cfg.get("Env") or []))
        key = cache.chain(state.key, "run", argv, cfg.get("Env"), cfg.get("User"),
                          cfg.get("WorkingDir"), network, run_mounts.key(wanted))
        layers = self.layer_dirs(state)

        def make(writer):
            from pycontain.build.layer import mount_stubs, upper_to_layer

            def into_layer(upper, destinations):
                upper_to_layer(upper, writer, mount_stubs(upper, destinations, Merged(layers)))
            prepared = run_mounts.prepare(wanted, self.store, self.context, self.opts.secrets)
            try:
                run_step(self.store, layers, cfg, argv, network, self.out is None, into_layer,
                         prepared.spec)
            finally:
                prepared.close()

        created_by = " ".join(argv) if inst.exec_form is None else json.dumps(argv)
        self.layer_step(state, key, f"RUN {created_by}", make)

    def copy(self, state, inst, lex, all_stages, stage) -> None:
        from pycontain.build import copystep
        flags = dict(inst.flags)
        unknown = set(flags) - {"chown", "chmod", "from", "link"}
        if unknown:
            raise PycontainError(f"unknown flag --{sorted(unknown)[0]}")
        words = inst.exec_form if inst.exec_form is not None else lex.words(inst.args)
        if len(words) < 2:
            raise PycontainError(f"{inst.cmd.upper()} wants SOURCE... DEST")
        tree = self.source_tree(lex.word(flags["from"]) if flags.get("from") else None,
                                all_stages, stage)
        chown = self.chown(state, lex.word(flags["chown"])) if flags.get("chown") else None
        chmod = None
        if flags.get("chmod"):
            try:
                chmod = int(flags["chmod"], 8)
            except ValueError:
                raise PycontainError(f"invalid --chmod {flags['chmod']!r} (want octal)") from None
            if chmod > 0o7777:
                raise PycontainError(f"invalid --chmod {flags['chmod']!r}")
        docs = inst.heredocs
        for doc in docs:
            if doc.expand:
                doc.content = lex.expand_plain(doc.content)
        items = copystep.plan(words[:-1], words[-1], state.cfg.get("WorkingDir") or "/",
                              tree, Merged(self.layer_dirs(state)), docs,
                              add=inst.cmd == "add", chown=chown, chmod=chmod,
                              fetch=self.fetch)
        key = cache.chain(state.key, inst.cmd, copystep.digest(items))
        self.layer_step(state, key, f"{inst.cmd.upper()} {' '.join(words)}",
                        lambda writer: copystep.write(items, writer, self.now()))

    def fetch(self, url: str):
        from pycontain.build.download import download
        path = os.path.join(self.work, f"add-{len(os.listdir(self.work))}")
        download(url, path)
        return path, os.lstat(path)

    def source_tree(self, ref, all_stages, stage):
        if not ref:
            return self.context
        found = st.find(all_stages, ref, stage.index)
        if found is not None and found.index not in self.results:
            raise PycontainError(f"--from={ref}: that stage was not built (it is named "
                                 "through a variable the stage list could not see)")
        if found is not None:
            dirs = [self.store.layer_dir(d) for d in self.results[found.index].diff_ids]
        else:
            dirs = self.resolve(ref).layer_dirs
        return Merged(dirs)

    def chown(self, state, text: str) -> tuple:
        from pycontain.userdb import resolve_user
        user, _, group = text.partition(":")
        ids = resolve_user(text, self.layer_dirs(state))
        if not group and user.isdigit():
            return ids["uid"], ids["uid"]
        return ids["uid"], ids["gid"]
