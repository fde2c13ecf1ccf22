"""Function packages: created from a zip, stored, invoked by name.

    <data root>/fn/functions/NAME/config.json   Lambda-style configuration
    <data root>/fn/functions/NAME/code/         the unpacked zip (read-only at /var/task)
    <data root>/fn/functions/NAME/logs/         its log stream (fn.registry.fnlogs; fn serve writes it)

Every change appears by an atomic rename: a new function directory is
complete before its name exists, new code replaces the old in one rename.
Changes of one function are serialised by a lock on its directory (flock:
the CLI and a running `fn serve`'s Lambda API share this module), and each
gives the function a new RevisionId, as Lambda does.
"""
import base64
import errno
import fcntl
import hashlib
import math
import os
import re
import secrets
import time

from pycontain import paths
from pycontain.errors import PycontainError
from pycontain.fn.environment import parse_env
from pycontain.fn.jail import JailConfig
from pycontain.fn.registry.package import unpack_zip
from pycontain.fsutil import read_json, remove_tree, write_json

NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
RUNTIME = "python3.11"  # the default; the image's python runs the handler whatever it says
RUNTIMES = tuple(f"python3.{minor}" for minor in range(8, 14))
# Lambda's pattern for an execution role's ARN (stored and shown; nothing assumes it)
ROLE = re.compile(r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-/]+\Z")
MAX_ROLE = 2048
MAX_DESCRIPTION = 256
MAX_ENVIRONMENT = 4096  # Lambda's limit on a function's variables, keys and values together
ACCOUNT, REGION = "000000000000", "us-east-1"  # the fixed local account of every ARN


# Lambda's FunctionName: a name, name:qualifier, or a full or partial ARN
NAME_PATTERN = (r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?"
                r"(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?")
_NAME = re.compile(NAME_PATTERN.replace("0-9-_", "0-9_-") + r"\Z")
MAX_NAME_ARG = 170  # a full ARN with a qualifier


def functions_dir() -> str:
    return paths.ensure_dir(os.path.join(paths.data_root(), "fn", "functions"))


def validate_name(name: str) -> str:
    if not 1 <= len(name) <= 64 or not set(name) <= NAME_CHARS:
        raise PycontainError(f"InvalidParameterValueException: invalid function name {name!r}: "
                             "1 to 64 letters, digits, '-' or '_'")
    return name


def validation_error(value, field: str, constraint: str) -> PycontainError:
    """Lambda's ValidationException, worded as Lambda words it."""
    shown = "null" if value is None else f"'{str(value)[:MAX_NAME_ARG]}'"
    return PycontainError(f"ValidationException: 1 validation error detected: Value {shown} at "
                          f"'{field}' failed to satisfy constraint: {constraint}")


def parse_function_name(text: str, qualifier: str | None = None) -> str:
    """The function's name in a FunctionName argument (a name, NAME:QUALIFIER
    or an ARN); only the $LATEST version exists."""
    match = _NAME.match(text) if isinstance(text, str) and len(text) <= MAX_NAME_ARG else None
    if not match:
        raise validation_error(text, "functionName", "Member must satisfy regular expression "
                               f"pattern: {NAME_PATTERN}")
    name = match.group(7)
    if len(name) > 64:
        raise validation_error(text, "functionName",
                               "Member must have length less than or equal to 64")
    qualifier = match.group(9) or qualifier
    if qualifier not in (None, "", "$LATEST"):
        raise PycontainError(f"ResourceNotFoundException: Function not found: {arn(name)}:"
                             f"{qualifier[:MAX_NAME_ARG]} (pycontain serves $LATEST only)")
    return name


def _dir(name: str) -> str:
    return os.path.join(functions_dir(), validate_name(name))


def arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def not_found(name: str) -> PycontainError:
    return PycontainError(f"ResourceNotFoundException: Function not found: {arn(name)}")


def get(name: str) -> dict:
    """The function's configuration; ResourceNotFoundException if there is none.
    Timeout and MemorySize are integers, as Lambda's (a store written before
    they were may hold a float Timeout: rounded up)."""
    try:
        config = read_json(os.path.join(_dir(name), "config.json"))
    except FileNotFoundError:
        raise not_found(name) from None
    for key in ("Timeout", "MemorySize"):
        if isinstance(config.get(key), float):
            config[key] = math.ceil(config[key])
    return config


def names() -> list:
    """Every function's name, sorted (directories being made or removed are not)."""
    return sorted(n for n in os.listdir(functions_dir()) if set(n) <= NAME_CHARS)


def list_all(start_after: str = "", limit: int | None = None) -> list:
    """Configurations, by name, of the functions after start_after (at most limit)."""
    found = []
    for name in names():
        if name > start_after:
            try:
                found.append(get(name))
            except PycontainError:  # removed meanwhile
                continue
            if limit is not None and len(found) >= limit:
                break
    return found


class _locked:  # noqa: N801 - used like a function: `with _locked(name):`
    """Hold function name's lock (its directory, flock'ed) for a change;
    ResourceNotFoundException if it does not exist (or is deleted while we wait)."""

    def __init__(self, name: str):
        self.path = _dir(name)
        self.name = name

    def __enter__(self):
        try:
            self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise not_found(self.name) from None
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            same = os.stat(self.path).st_ino == os.fstat(self.fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # deleted (renamed away) while we waited
            os.close(self.fd)
            raise not_found(self.name)

    def __exit__(self, *_):
        os.close(self.fd)


def _code_info(zip_path: str) -> dict:
    try:
        with open(zip_path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise PycontainError(f"cannot read zip file {zip_path}: {exc.strerror}") from None
    return {"CodeSize": len(data),
            "CodeSha256": base64.b64encode(hashlib.sha256(data).digest()).decode()}


def validate_runtime(runtime: str) -> str:
    if runtime not in RUNTIMES:
        raise PycontainError(f"InvalidParameterValueException: The runtime parameter of "
                             f"{runtime[:64]!r} is not supported: use one of "
                             f"{', '.join(RUNTIMES)}")
    return runtime


def validate_role(role: str) -> str:
    if len(role) > MAX_ROLE or not ROLE.match(role):
        raise PycontainError(f"InvalidParameterValueException: invalid role {role[:64]!r}: "
                             "an IAM role ARN, arn:aws:iam::ACCOUNT:role/NAME")
    return role


def _environment(env) -> dict:
    """{"Variables": ...} from KEY=VALUE items, within Lambda's 4 KB."""
    variables = parse_env(env)
    size = sum(len(k.encode()) + len(v.encode()) for k, v in variables.items())
    if size > MAX_ENVIRONMENT:
        raise PycontainError("InvalidParameterValueException: Lambda was unable to configure "
                             "your environment variables because the environment variables "
                             f"you have provided exceeded the 4KB limit ({size} bytes)")
    return {"Variables": variables}


def _settings(config: dict, handler=None, timeout=None, memory=None, env=None, image=None,
              concurrency=None, runtime=None, role=None, description=None, network=None):
    """Apply and validate changed settings on config (in place). concurrency:
    Lambda's reserved concurrency, the most calls of this function at once;
    runtime and role (an ARN) are stored and shown, as Lambda's."""
    if description is not None:
        if len(description) > MAX_DESCRIPTION:
            raise PycontainError("InvalidParameterValueException: the description must be "
                                 f"at most {MAX_DESCRIPTION} characters")
        config["Description"] = description
    if handler is not None:
        config["Handler"] = handler
    if runtime is not None:
        config["Runtime"] = validate_runtime(runtime)
    if role is not None:
        config["Role"] = validate_role(role)
    if timeout is not None:
        config["Timeout"] = timeout
    if memory is not None:
        config["MemorySize"] = memory
    if env is not None:
        config["Environment"] = _environment(env)
    if image is not None:
        config["Image"] = image
    if network is not None:  # the host's network for its calls (pycontain's, not Lambda's)
        config["Network"] = bool(network)
    if concurrency is not None:
        if concurrency < 0:
            raise PycontainError("InvalidParameterValueException: the reserved concurrency "
                                 "must be 0 or more")
        config["ReservedConcurrentExecutions"] = concurrency
    if "." not in config["Handler"]:
        raise PycontainError(f"InvalidParameterValueException: handler {config['Handler']!r} "
                             "must be MODULE.FUNCTION")
    now = time.time()
    config["LastModified"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + \
        f".{int(now * 1000) % 1000:03d}+0000"
    config.update(RevisionId=_revision(), State="Active", LastUpdateStatus="Successful")
    return config


def _revision() -> str:
    """A new RevisionId: a random (version 4) UUID, as Lambda's."""
    from pycontain.fn.outcome import new_request_id
    return new_request_id()


def _conflict(name: str) -> PycontainError:
    return PycontainError(f"ResourceConflictException: Function already exist: {name}")


def create(name: str, zip_path: str, handler: str, timeout: int = 3, memory: int = 128,
           env=(), image: str = "python", concurrency: int | None = None,
           runtime: str = RUNTIME, role: str | None = None, description: str = "",
           network: bool = False) -> dict:
    directory = _dir(name)
    if os.path.exists(directory):
        raise _conflict(name)
    config = _settings({"FunctionName": name, "Runtime": RUNTIME, "Version": "$LATEST",
                        "FunctionArn": arn(name), "Handler": handler, "Timeout": timeout,
                        "MemorySize": memory, "Environment": {"Variables": {}},
                        "PackageType": "Zip", "Image": image},
                       env=list(env), concurrency=concurrency, runtime=runtime, role=role,
                       description=description, network=network or None)
    config.update(_code_info(zip_path))
    tmp = f"{directory}.tmp-{secrets.token_hex(6)}"
    os.mkdir(tmp, 0o755)
    try:
        unpack_zip(zip_path, os.path.join(tmp, "code"))
        write_json(os.path.join(tmp, "config.json"), config)
        os.rename(tmp, directory)
    except OSError as exc:
        remove_tree(tmp)
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):  # created meanwhile
            raise _conflict(name) from None
        raise
    except BaseException:
        remove_tree(tmp)
        raise
    return config


def update(name: str, zip_path=None, revision_id: str | None = None, **settings) -> dict:
    """New code (zip_path) and/or settings (handler, timeout, memory, env, image,
    concurrency, runtime, role, description). revision_id: the RevisionId the
    caller last saw; PreconditionFailedException if the function changed since."""
    directory = _dir(name)
    with _locked(name):
        config = get(name)
        if revision_id is not None and revision_id != config.get("RevisionId"):
            raise PycontainError("PreconditionFailedException: The Revision Id provided does "
                                 "not match the latest Revision Id. Call the GetFunction API "
                                 "to retrieve the latest Revision Id")
        config = _settings(config, **settings)
        if zip_path:
            config.update(_code_info(zip_path))
            code = os.path.join(directory, "code")
            fresh = f"{code}.tmp-{secrets.token_hex(6)}"
            old = f"{code}.old-{secrets.token_hex(6)}"
            unpack_zip(zip_path, fresh)
            os.rename(code, old)
            os.rename(fresh, code)
            remove_tree(old)
        write_json(os.path.join(directory, "config.json"), config)
    return config


def remove_concurrency(name: str) -> None:
    """Lambda's DeleteFunctionConcurrency: no reserved concurrency (no limit)."""
    with _locked(name):
        config = get(name)
        if config.pop("ReservedConcurrentExecutions", None) is not None:
            write_json(os.path.join(_dir(name), "config.json"), config)


def delete(name: str) -> None:
    """Remove the function, its code and its log stream."""
    directory = _dir(name)
    with _locked(name):
        doomed = f"{directory}.tmp-{secrets.token_hex(6)}"
        os.rename(directory, doomed)
    remove_tree(doomed)


def jail_config(name: str) -> JailConfig:
    """What a call of the function runs with."""
    config = get(name)
    env = [f"{k}={v}" for k, v in config["Environment"]["Variables"].items()]
    return JailConfig(code=os.path.join(_dir(name), "code"), handler=config["Handler"],
                      function_name=name, memory_mb=config["MemorySize"],
                      timeout=config["Timeout"], env=env, image=config.get("Image", "python"),
                      network=config.get("Network", False))
