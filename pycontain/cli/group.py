"""The root click group: one line + exit code for every error, and the
shared helpers the command modules use. Command modules import this;
pycontain.cli.app imports them all."""
import sys

import click

from pycontain.cli.entry import fail
from pycontain.errors import PycontainError


class Group(click.Group):
    """Turns PycontainError into one line + its exit code, usage errors into 125."""

    def main(self, *args, **kwargs):
        try:
            return super().main(*args, standalone_mode=False, **kwargs)
        except PycontainError as exc:
            fail(exc)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help())
            sys.exit(0)
        except click.ClickException as exc:
            print(f"pycontain: {exc.format_message()}", file=sys.stderr)
            sys.exit(125)
        except click.exceptions.Abort:
            sys.exit(130)


@click.group(cls=Group, context_settings={"help_option_names": ["--help"]})
@click.version_option(package_name="pycontain")
def cli():
    """pycontain: run containers from OCI images, and Python functions in jails."""


def lookup(ref):
    """The container a command names (id, id prefix or name)."""
    from pycontain.engine.state import lookup as find
    return find(ref)


def each(refs, action) -> None:
    """action(container) for each ref in order, echoing the ref as given once
    it is done, as docker does (stop, kill, rm, restart, pause, update)."""
    for ref in refs:
        action(lookup(ref))
        click.echo(ref)


def stop_options(func):
    """-t/--time and -s/--signal: how a container is stopped (stop, restart)."""
    func = click.option("-s", "--signal", "sig", help="Signal to stop it with "
                        "(default: its --stop-signal, else SIGTERM).")(func)
    return click.option("-t", "--time", "timeout", type=int, help="Seconds to wait "
                        "before SIGKILL (default: its --stop-timeout, else 10).")(func)


def run_flag_options(func):
    """The flags of `run` (cli.runopts.RUN_FLAGS) as click options (run, create)."""
    from pycontain.cli.runopts import FLAG, MULTI, RUN_FLAGS
    for names, dest, kind, help_text in reversed(RUN_FLAGS):
        if kind == FLAG:
            func = click.option(*names, dest, is_flag=True, default=None, help=help_text)(func)
        else:
            func = click.option(*names, dest, multiple=kind == MULTI, help=help_text)(func)
    return func
