"""Healthchecks: what to check (Config.Healthcheck) and what was found
(State.Health), as docker has them.

The check is the image's Healthcheck with the --health-* flags over it, field
by field (--no-healthcheck: none); durations in nanoseconds, as image configs
store them. Test is ["CMD", ARG...], ["CMD-SHELL", COMMAND] (run by /bin/sh -c)
or ["NONE"]. While the container runs, a checker process (engine.healthcheck)
runs the test every Interval like `exec`, with the Timeout, and records each
result here: the status (starting, then healthy or unhealthy), the failing
streak and the last MAX_LOG results, in the run directory's health.json.
A failure within StartPeriod of the start does not count; Retries failures in
a row make the container unhealthy, one success healthy again.
"""
import os

from pycontain.errors import PycontainError

SECOND = 1_000_000_000
DEFAULTS = {"Interval": 30 * SECOND, "Timeout": 30 * SECOND, "StartPeriod": 0, "Retries": 3}
MIN_DURATION = 1_000_000  # docker refuses a non-zero duration under 1 ms
DURATION_FLAGS = {"health_interval": "Interval", "health_timeout": "Timeout",
                  "health_start_period": "StartPeriod"}
MAX_LOG, MAX_OUTPUT, MAX_TEST = 5, 4096, 1 << 16
STARTING, HEALTHY, UNHEALTHY = "starting", "healthy", "unhealthy"
STATE_FILE = "health.json"


def settings(image_cfg: dict, opts) -> dict | None:
    """Config.Healthcheck for the container's record (None: the image has
    none and no flag asks for one)."""
    flags = {f: getattr(opts, f) for f in (*DURATION_FLAGS, "health_cmd", "health_retries")
             if getattr(opts, f) is not None}
    if opts.no_healthcheck:
        if flags:
            raise PycontainError("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    check = _checked(image_cfg.get("Healthcheck"), "the image's Healthcheck")
    if "health_cmd" in flags:
        check["Test"] = ["CMD-SHELL", flags["health_cmd"]]
    for flag, key in DURATION_FLAGS.items():
        if flag in flags:
            check[key] = _flag_duration(flags[flag], flag)
    if "health_retries" in flags:
        check["Retries"] = _count(flags["health_retries"], "--health-retries")
    return _checked(check, "the healthcheck") or None


def _flag_duration(text: str, flag: str) -> int:
    from pycontain.durations import go_duration
    name = "--" + flag.replace("_", "-")
    try:
        return go_duration(text)
    except ValueError:
        raise PycontainError(f"invalid {name} {text[:64]!r}: want a duration "
                             "such as 30s, 1m30s or 500ms") from None


def _count(text, name: str) -> int:
    if not str(text).isdigit() or len(str(text)) > 9:
        raise PycontainError(f"invalid {name} {str(text)[:32]!r}: want a whole number")
    return int(text)


def _checked(check, what: str) -> dict:
    """A copy of a Healthcheck config, its types and values checked (an
    image's comes from anyone)."""
    if check is None:
        return {}
    if not isinstance(check, dict):
        raise PycontainError(f"invalid {what}: not an object")
    out = {}
    test = check.get("Test")
    if test:
        if not isinstance(test, list) or not all(isinstance(t, str) for t in test) \
                or sum(map(len, test)) > MAX_TEST:
            raise PycontainError(f"invalid {what}: Test must be a list of strings")
        kind = test[0]
        if kind not in ("NONE", "CMD", "CMD-SHELL") or kind == "CMD" and len(test) < 2 \
                or kind == "CMD-SHELL" and (len(test) != 2 or not test[1]) \
                or kind == "NONE" and len(test) != 1:
            raise PycontainError(f"invalid {what}: Test must be [\"CMD\", ARG...], "
                                 "[\"CMD-SHELL\", COMMAND] or [\"NONE\"]")
        out["Test"] = list(test)
    for key in ("Interval", "Timeout", "StartPeriod", "Retries"):
        value = check.get(key)
        if value in (None, 0):
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise PycontainError(f"invalid {what}: {key} must be a number, not negative")
        if key != "Retries" and value < MIN_DURATION:
            raise PycontainError(f"invalid {what}: {key} cannot be less than 1ms")
        out[key] = value
    return out


def active(check) -> bool:
    """The check runs (it has a test, and not NONE)."""
    return bool(check and check.get("Test") and check["Test"][0] != "NONE")


def value(check: dict, key: str) -> int:
    """Interval, Timeout, StartPeriod (ns) or Retries: the check's, else docker's default."""
    return check.get(key) or DEFAULTS[key]


def argv(check: dict) -> list:
    test = check["Test"]
    return ["/bin/sh", "-c", test[1]] if test[0] == "CMD-SHELL" else list(test[1:])


def advance(health: dict, result: dict, check: dict, started_at: float) -> dict:
    """The health after one more result (docker's rules, see the module doc)."""
    status, streak = health.get("Status", STARTING), health.get("FailingStreak", 0)
    if result["ExitCode"] == 0:
        status, streak = HEALTHY, 0
    elif not (status == STARTING and
              result["Start"] - started_at < value(check, "StartPeriod") / SECOND):
        streak += 1
        if streak >= value(check, "Retries"):
            status = UNHEALTHY
    log = (list(health.get("Log") or []) + [result])[-MAX_LOG:]
    return {"Status": status, "FailingStreak": streak, "Log": log}


def _path(ctr) -> str:
    return os.path.join(ctr.run_dir, STATE_FILE)


def read(ctr) -> dict | None:
    """The recorded State.Health (times as Unix seconds), None if none."""
    from pycontain.fsutil import read_json
    if not active(ctr.meta.get("healthcheck")):
        return None
    try:
        return read_json(_path(ctr))
    except (FileNotFoundError, ValueError):
        return None


def reset(ctr) -> None:
    """At a start: starting again, no streak, no results."""
    from pycontain.fsutil import write_json
    write_json(_path(ctr), {"Status": STARTING, "FailingStreak": 0, "Log": []}, sync=False)


def record(ctr, result: dict) -> str:
    """Add a result (Start, End: Unix seconds; ExitCode; Output); the status.
    Locked: the checker and `healthcheck run` may both record."""
    from pycontain.engine.events import container_event
    from pycontain.fsutil import locked_file, write_json

    with locked_file(os.path.join(ctr.run_dir, "health.lock")):
        before = read(ctr) or {}
        after = advance(before, result, ctr.meta["healthcheck"], ctr.state.started_at)
        write_json(_path(ctr), after, sync=False)
    if after["Status"] != before.get("Status"):
        container_event(ctr, "health_status: " + after["Status"])
    return after["Status"]


def status(ctr) -> str | None:
    """What `ps` adds to a running container's status: None (no check),
    'health: starting', 'healthy' or 'unhealthy'."""
    health = read(ctr)
    if health is None:
        return None
    current = health.get("Status", STARTING)
    return "health: " + current if current == STARTING else current
