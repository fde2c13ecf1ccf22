"""The environment a handler sees: Lambda's variables plus the function's own.

Nothing comes from the caller's environment.
"""
import time

from pycontain.errors import PycontainError

REGION = "us-east-1"
BASE = {
    "PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
    "LANG": "C.UTF-8",
    "TZ": ":UTC",
    "LAMBDA_TASK_ROOT": "/var/task",
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
}
# what `fn exec` and `fn invoke` keep of the caller's environment (csrc/launcher.c
# empties the rest before the engine starts; setup.py generates its list from this)
KEPT_VARIABLES = ("HOME", "PATH", "XDG_RUNTIME_DIR", "XDG_DATA_HOME", "PYCONTAIN_ROOT",
                  "PYCONTAIN_RUNROOT", "PYCONTAIN_CGROUP_PARENT")
# Lambda refuses to let a function set these (InvalidParameterValueException)
RESERVED = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})


def parse_env(items) -> dict:
    """K=V pairs given by the user; reserved or malformed names are refused."""
    env = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key or not (key[0].isalpha() or key[0] == "_") or not all(
                c.isalnum() or c == "_" for c in key):
            raise PycontainError(f"invalid environment variable {item!r}: want KEY=VALUE "
                                 "(KEY: letters, digits and _, not starting with a digit)")
        if key in RESERVED or key.startswith("_PYCONTAIN_"):
            raise PycontainError(f"InvalidParameterValueException: {key} is a reserved "
                                 "environment variable and cannot be set")
        env[key] = value
    return env


def lambda_env(cfg, request_id: str, deadline_ms: int) -> list:
    """KEY=VALUE list for the jail: Lambda's variables, then cfg.env."""
    name = cfg.function_name
    env = dict(BASE)
    env.update({
        "_HANDLER": cfg.handler,
        "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(cfg.memory_mb),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(cfg.timeout)),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
    })
    env.update(parse_env(cfg.env))
    env.update(call_variables(request_id, deadline_ms))
    return [f"{k}={v}" for k, v in env.items()]


def call_variables(request_id: str, deadline_ms: int) -> dict:
    """The variables of one call, last in its environment (a jail built ahead
    of its call, fn.oneshot.describe, gets them only then; the runner removes the
    _PYCONTAIN_ ones)."""
    return {"AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime())
            + request_id.replace("-", ""),
            "_PYCONTAIN_REQUEST_ID": request_id, "_PYCONTAIN_DEADLINE_MS": str(deadline_ms)}


CALL_VARIABLES = tuple(call_variables("", 0))

# the variables the pycontain command (csrc/launcher.c, from a header setup.py
# generates from this line) lets through to `fn exec` and `fn invoke`: the
# engine reads them, and they are part of a cached jail description's key
KEPT_VARIABLES = ("HOME", "PATH", "XDG_RUNTIME_DIR", "XDG_DATA_HOME", "PYCONTAIN_ROOT",
                  "PYCONTAIN_RUNROOT", "PYCONTAIN_CGROUP_PARENT")
