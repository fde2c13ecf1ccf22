"""Function packages: created from a zip, stored, invoked by name.

    <data root>/fn/functions/NAME/config.json   Lambda-style configuration
    <data root>/fn/functions/NAME/code/         the unpacked zip (read-only at /var/task)

Every change appears by an atomic rename: a new function directory is
complete before its name exists, new code replaces the old in one rename.
"""
import base64
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
from pycontain.fn.package import unpack_zip
from pycontain.fsutil import read_json, remove_tree, write_json

NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
RUNTIME = "python3.11"  # the default; the image's python runs the handler whatever it says
RUNTIMES = tuple(f"python3.{minor}" for minor in range(8, 14))
# Lambda's pattern for an execution role's ARN (stored and shown; nothing assumes it)
ROLE = re.compile(r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-/]+\Z")
MAX_ROLE = 2048


def functions_dir() -> str:
    return paths.ensure_dir(os.path.join(paths.data_root(), "fn", "functions"))


def validate_name(name: str) -> str:
    if not 1 <= len(name) <= 64 or not set(name) <= NAME_CHARS:
        raise PycontainError(f"InvalidParameterValueException: invalid function name {name!r}: "
                             "1 to 64 letters, digits, '-' or '_'")
    return name


def _dir(name: str) -> str:
    return os.path.join(functions_dir(), validate_name(name))


def get(name: str) -> dict:
    """The function's configuration; ResourceNotFoundException if there is none.
    Timeout and MemorySize are integers, as Lambda's (a store written before
    they were may hold a float Timeout: rounded up)."""
    try:
        config = read_json(os.path.join(_dir(name), "config.json"))
    except FileNotFoundError:
        raise PycontainError(f"ResourceNotFoundException: Function not found: {name}") from None
    for key in ("Timeout", "MemorySize"):
        if isinstance(config.get(key), float):
            config[key] = math.ceil(config[key])
    return config


def list_all() -> list:
    found = []
    for name in sorted(os.listdir(functions_dir())):
        if ".tmp-" not in name:
            try:
                found.append(get(name))
            except PycontainError:
                continue
    return found


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


def _settings(config: dict, handler=None, timeout=None, memory=None, env=None, image=None,
              concurrency=None, runtime=None, role=None):
    """Apply and validate changed settings on config (in place). concurrency:
    Lambda's reserved concurrency, the most calls of this function at once;
    runtime and role (an ARN) are stored and shown, as Lambda's."""
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
        config["Environment"] = {"Variables": parse_env(env)}
    if image is not None:
        config["Image"] = image
    if concurrency is not None:
        if concurrency < 0:
            raise PycontainError("InvalidParameterValueException: the reserved concurrency "
                                 "must be 0 or more")
        config["ReservedConcurrentExecutions"] = concurrency
    if "." not in config["Handler"]:
        raise PycontainError(f"InvalidParameterValueException: handler {config['Handler']!r} "
                             "must be MODULE.FUNCTION")
    config["LastModified"] = time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime())
    return config


def create(name: str, zip_path: str, handler: str, timeout: int = 3, memory: int = 128,
           env=(), image: str = "python", concurrency: int | None = None,
           runtime: str = RUNTIME, role: str | None = None) -> dict:
    directory = _dir(name)
    if os.path.exists(directory):
        raise PycontainError(f"ResourceConflictException: Function already exist: {name}")
    config = _settings({"FunctionName": name, "Runtime": RUNTIME, "Version": "$LATEST",
                        "FunctionArn": f"arn:aws:lambda:us-east-1:000000000000:function:{name}",
                        "Handler": handler, "Timeout": timeout, "MemorySize": memory,
                        "Environment": {"Variables": {}}, "Image": image},
                       env=list(env), concurrency=concurrency, runtime=runtime, role=role)
    config.update(_code_info(zip_path))
    tmp = f"{directory}.tmp-{secrets.token_hex(6)}"
    os.mkdir(tmp, 0o755)
    try:
        unpack_zip(zip_path, os.path.join(tmp, "code"))
        write_json(os.path.join(tmp, "config.json"), config)
        os.rename(tmp, directory)
    except FileExistsError:
        remove_tree(tmp)
        raise PycontainError(f"ResourceConflictException: Function already exist: {name}") from None
    except BaseException:
        remove_tree(tmp)
        raise
    return config


def update(name: str, zip_path=None, **settings) -> dict:
    """New code (zip_path) and/or settings (handler, timeout, memory, env, image,
    concurrency, runtime, role)."""
    directory = _dir(name)
    config = _settings(get(name), **settings)
    if zip_path:
        config.update(_code_info(zip_path))
        code = os.path.join(directory, "code")
        fresh, old = f"{code}.tmp-{secrets.token_hex(6)}", f"{code}.old-{secrets.token_hex(6)}"
        unpack_zip(zip_path, fresh)
        os.rename(code, old)
        os.rename(fresh, code)
        remove_tree(old)
    write_json(os.path.join(directory, "config.json"), config)
    return config


def delete(name: str) -> None:
    get(name)
    directory = _dir(name)
    doomed = f"{directory}.tmp-{secrets.token_hex(6)}"
    os.rename(directory, doomed)
    remove_tree(doomed)


def jail_config(name: str) -> JailConfig:
    """What a call of the function runs with."""
    config = get(name)
    env = [f"{k}={v}" for k, v in config["Environment"]["Variables"].items()]
    return JailConfig(code=os.path.join(_dir(name), "code"), handler=config["Handler"],
                      function_name=name, memory_mb=config["MemorySize"],
                      timeout=config["Timeout"], env=env, image=config.get("Image", "python"))
