"""`pycontain fn ...`: Python functions with the AWS Lambda contract, in jails."""
import base64
import json
import os
import sys

import click

from pycontain.cli.group import cli
from pycontain.errors import PycontainError
from pycontain.fn.oneshot.exec_command import EXEC_FLAGS, FLAG, MULTI, exec_and_exit, parse_memory, \
    parse_whole_timeout

EXIT_BAD_REQUEST = 2  # `fn invoke`: a request Lambda refuses (the call did not run)


@cli.group()
def fn():
    """Run Python handlers (the AWS Lambda contract) in fresh jails."""


def _exec_options(func):
    for name, dest, kind, help_text in reversed(EXEC_FLAGS):
        if kind == FLAG:
            func = click.option(name, dest, is_flag=True, default=None, help=help_text)(func)
        else:
            func = click.option(name, dest, multiple=kind == MULTI, help=help_text)(func)
    return func


@fn.command(name="exec")
@_exec_options
@click.argument("target", metavar="HANDLER.py|DIR")
def exec_(target, **values):
    """Run a handler once in a fresh jail and print its result JSON.

    Exit codes: 0 result, 1 function error (error JSON on stdout), 2 request
    refused (event not JSON or over 6 MB), 124 timed out, 125 pycontain failed.
    """
    exec_and_exit(values, target)


def _settings_options(func):
    func = click.option("--network/--no-network", "network", default=None,
                        help="Share the host's network (default: loopback only).")(func)
    func = click.option("--description", help="What the function does (stored and shown).")(func)
    func = click.option("--image", help="Image whose python runs the handler.")(func)
    func = click.option("--env", multiple=True, help="KEY=VALUE for the handler.")(func)
    func = click.option("--memory", help="Memory size, e.g. 128m (128m to 10240m).")(func)
    func = click.option("--timeout", help="Whole seconds per call (1 to 900).")(func)
    func = click.option("--concurrency", type=int,
                        help="Reserved concurrency: at most N calls at once (fn serve).")(func)
    func = click.option("--role", help="Execution role ARN (stored and shown, as Lambda's; "
                        "not enforced).")(func)
    func = click.option("--runtime", help="python3.8 to python3.13 (stored and shown; the "
                        "image's python runs the handler).")(func)
    func = click.option("--function-name", "function_name",
                        help="The function's name (the AWS CLI's spelling of NAME).")(func)
    return func


def _name(name, function_name) -> str:
    """NAME, given as the argument or as --function-name (not both unless equal)."""
    if name and function_name and name != function_name:
        raise PycontainError(f"two names given: {name!r} and --function-name {function_name!r}")
    if not (name or function_name):
        raise PycontainError("missing the function's name: NAME or --function-name NAME")
    return name or function_name


def _code(zip_file):
    """--zip-file PATH, or the AWS CLI's fileb://PATH."""
    return zip_file.removeprefix("fileb://") if zip_file else None


def _print(obj) -> None:
    click.echo(json.dumps(obj, indent=4))


@fn.command()
@click.argument("name", required=False)
@click.option("--zip-file", "zip_file", required=True,
              help="The function's code: a zip, PATH or fileb://PATH.")
@click.option("--handler", required=True, help="MODULE.FUNCTION, e.g. main.handler.")
@_settings_options
def create(name, function_name, zip_file, handler, runtime, role, concurrency, timeout, memory,
           env, image, description, network):
    """Create function NAME from a zip file."""
    from pycontain.fn.registry import functions
    _print(functions.create(_name(name, function_name), _code(zip_file), handler,
                            parse_whole_timeout(timeout or 3), parse_memory(memory or 128), env,
                            image or "python", concurrency,
                            runtime=runtime or functions.RUNTIME, role=role,
                            description=description or "", network=bool(network)))


@fn.command()
@click.argument("name", required=False)
@click.option("--zip-file", "zip_file", help="New code: a zip, PATH or fileb://PATH.")
@click.option("--handler", help="MODULE.FUNCTION.")
@_settings_options
def update(name, function_name, zip_file, handler, runtime, role, concurrency, timeout, memory,
           env, image, description, network):
    """Change function NAME's code or settings (--env replaces all variables)."""
    from pycontain.fn.registry import functions
    _print(functions.update(
        _name(name, function_name), _code(zip_file), handler=handler,
        timeout=parse_whole_timeout(timeout) if timeout else None,
        memory=parse_memory(memory) if memory else None, env=list(env) if env else None,
        image=image, concurrency=concurrency, runtime=runtime, role=role,
        description=description, network=network))


@fn.command(name="list")
def list_():
    """List functions as JSON."""
    from pycontain.fn.registry import functions
    _print({"Functions": functions.list_all()})


@fn.command()
@click.argument("name")
def get(name):
    """Show function NAME's configuration."""
    from pycontain.fn.registry import functions
    _print({"Configuration": functions.get(name)})


@fn.command()
@click.argument("name")
def delete(name):
    """Delete function NAME."""
    from pycontain.fn.registry import functions
    functions.delete(name)


def _payload(text) -> bytes:
    if text is None:
        return b"{}"
    data = text.encode()
    try:
        json.loads(data)
    except ValueError as exc:
        raise PycontainError("InvalidRequestContentException: Could not parse request body "
                             f"into json: {exc}", EXIT_BAD_REQUEST) from None
    return data


@fn.command()
@click.argument("name")
@click.argument("outfile", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--payload", help="The event, as JSON (default: {}).")
@click.option("--log-type", "log_type", type=click.Choice(["None", "Tail"]), default="None",
              help="Tail: return the last 4 KB of the log, base64, as LogResult.")
def invoke(name, outfile, payload, log_type):
    """Call function NAME; write its result to OUTFILE, print the status as
    the AWS CLI does (exit 0 even if the function failed: see FunctionError)."""
    from pycontain.fn.registry import functions
    from pycontain.fn.oneshot.call import run_call
    from pycontain.fn.outcome import EXIT_BAD_REQUEST as REFUSED

    cfg, event = functions.jail_config(name), _payload(payload)
    try:  # before the call: a result with nowhere to go runs nothing
        result_file = click.open_file(outfile, "wb")
    except OSError as exc:
        raise PycontainError(f"cannot write {outfile}: {exc.strerror}") from None
    with result_file as f:
        outcome = run_call(cfg, event)
        if outcome.exit_code == REFUSED and outcome.function_error and b"RequestTooLarge" in \
                outcome.payload:
            raise PycontainError("RequestTooLargeException: "
                                 f"{json.loads(outcome.payload)['errorMessage']}", EXIT_BAD_REQUEST)
        f.write(outcome.payload)
    status = {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    if outcome.function_error:
        status["FunctionError"] = outcome.function_error
    if log_type == "Tail":
        status["LogResult"] = base64.b64encode(outcome.log).decode()
    _print(status)
    sys.stdout.flush()


@fn.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (other than loopback only with --api-key-file).")
@click.option("--api-key-file", "api_key_file", type=click.Path(dir_okay=False),
              help="Keys, one a line: an API key (Lambda's APIs and --api-key routes then "
              "need one in an x-api-key header) or ACCESS_KEY_ID SECRET_ACCESS_KEY (Lambda's "
              "APIs also take requests signed with it: the AWS CLI, boto3).")
@click.option("--port", default=9000, show_default=True, type=click.IntRange(0, 65535),
              help="0: any free port.")
@click.option("--max-concurrency", "max_concurrency", default=64, show_default=True,
              type=click.IntRange(1, 4096), help="Calls running at once, all functions.")
@click.option("--queue-timeout", "queue_timeout", default=10.0, show_default=True,
              type=click.FloatRange(0), help="Seconds a call waits for a slot before 429.")
@click.option("--idle-ttl", "idle_ttl", default=600.0, show_default=True,
              type=click.FloatRange(0), help="Seconds before an unused zygote is killed.")
@click.option("--spares", default=4, show_default=True, type=click.IntRange(0, 64),
              help="Call jails each zygote keeps set up ahead (0: each made on demand).")
@click.option("--max-connections", "max_connections", default=4096, show_default=True,
              type=click.IntRange(1, 65536), help="Open connections at once; past that "
              "the longest idle one is closed, or newcomers wait to be accepted.")
@click.option("--read-timeout", "read_timeout", default=10.0, show_default=True,
              type=click.FloatRange(0, min_open=True), help="Seconds a request (headers "
              "and body) has to arrive from its first byte; a slower one gets 408.")
@click.option("--keepalive-timeout", "keepalive_timeout", default=60.0, show_default=True,
              type=click.FloatRange(0, min_open=True),
              help="Seconds an idle connection is kept open.")
def serve(host, api_key_file, port, max_concurrency, queue_timeout, idle_ttl, spares,
          max_connections, read_timeout, keepalive_timeout):
    """Serve every function through the Lambda Invoke API (boto3, AWS CLI),
    each call in a fresh jail forked from the function's warm zygote, and
    Lambda's function API (create-function, update-function-code...), and
    serve HTTP routes to functions (fn route create) as API Gateway's HTTP API."""
    from pycontain.fn.server.serve import serve as run
    run(host, port, max_concurrency, queue_timeout, idle_ttl, spares=spares,
        max_connections=max_connections, read_timeout=read_timeout,
        keepalive_timeout=keepalive_timeout, api_key_file=api_key_file)


@fn.command()
@click.argument("name")
@click.option("-f", "--follow", is_flag=True, help="Keep showing new events.")
@click.option("--since", help="Only events since then: 30s, 5m, 2h, 1d, or a time "
              "(2024-05-01T12:00:00, UTC).")
def logs(name, follow, since):
    """Show function NAME's log stream (what fn serve's calls logged: START,
    the handler's output, END, REPORT), oldest first."""
    from pycontain.fn.registry import fnlogs
    try:
        fnlogs.show(name, sys.stdout, fnlogs.parse_since(since) if since else 0.0, follow)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # `fn logs NAME | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
