"""`pycontain system gc`: everything killed engines and servers left behind.

The engine's part (pycontain.engine.gc: containers, state, names, cgroups,
networks) knows nothing of functions; the functions' part (their call cgroups
and caches) is added here, where both may be imported, so the engine never
reaches into pycontain.fn.
"""
import os

import click

from pycontain.cli.group import cli

FN_CACHES = ("bytecode", "plans")  # rebuilt on the next call; "plans": left by older versions


def collect_fn() -> list:
    """Remove the call cgroups of `fn serve` servers that are gone and empty
    the functions' caches (silently); one line per cgroup removed."""
    from pycontain import paths
    from pycontain.fn.server.call_cgroups import remove_leftovers

    removed = [f"removed cgroup {name[:12]}" for name in remove_leftovers()]
    for kind in FN_CACHES:
        cache = paths.cache_path(kind)
        try:
            names = os.listdir(cache)
        except FileNotFoundError:
            continue
        for name in names:
            os.unlink(os.path.join(cache, name))
    return removed


@cli.group()
def system():
    """Engine-wide housekeeping."""


@system.command()
def gc():
    """Remove what crashed or killed engines left behind."""
    from pycontain.engine.gc import collect
    for line in collect_fn() + collect():  # functions first: their cgroups hold our parent
        click.echo(line)
