"""The `pycontain` console script.

`pycontain run` with well-formed flags takes a lean path (no click import);
everything else, including help and flag errors, goes through click.
"""
import sys

from pycontain.errors import PycontainError, from_disk


def fail(exc: PycontainError):
    print(f"pycontain: {exc}", file=sys.stderr)
    sys.exit(exc.code)


def run_and_exit(values: dict, image: str, command) -> None:
    """Shared by both parsers: run a container and exit as docker would."""
    from pycontain.cli.runopts import make_options
    from pycontain.engine.container import run

    try:
        result = run(make_options(values, image, command))
    except PycontainError as exc:
        fail(exc)
    except KeyboardInterrupt:
        sys.exit(130)
    if isinstance(result, str):
        print(result)
        sys.exit(0)
    sys.exit(result)


def main(argv=None) -> None:
    """Every command; a write the disk refused (full, over quota, read-only),
    wherever it happened, ends as one line and 125 like any engine error."""
    try:
        _main(sys.argv[1:] if argv is None else list(argv))
    except OSError as exc:
        error = from_disk(exc)
        if error is None:
            raise
        fail(error)


def _main(argv: list) -> None:
    if argv[:1] == ["run"]:
        from pycontain.cli.runopts import fast_parse
        parsed = fast_parse(argv[1:])
        if parsed is not None:
            run_and_exit(*parsed)
    elif argv[:2] == ["fn", "exec"]:  # the same lean path for one-shot functions
        from pycontain.fn.oneshot.exec_command import exec_and_exit, fast_parse as fn_parse
        parsed = fn_parse(argv[2:])
        if parsed is not None:
            exec_and_exit(*parsed)
        from pycontain.fn.oneshot.description_cache import take_key
        take_key()  # click parses what the lean parser did not: not cached
    from pycontain.cli.app import cli
    cli.main(argv, prog_name="pycontain")
