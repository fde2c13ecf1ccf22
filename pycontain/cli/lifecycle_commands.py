"""Lifecycle commands (create, start, restart, wait, pause, unpause, rename,
top, attach, events): parse, call engine.lifecycle, print as docker does."""
import sys
import time

import click

from pycontain.cli.group import cli, each, lookup, run_flag_options, stop_options


@cli.command(context_settings={"allow_interspersed_args": False})
@run_flag_options
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def create(image, command, **values):
    """Create a container from IMAGE without starting it; print its id."""
    from pycontain.cli.runopts import make_options
    from pycontain.engine.container import create as create_container

    values["detach"] = None  # `start` decides
    ctr, _ = create_container(make_options(values, image, command), kept=True)
    click.echo(ctr.id)


@cli.command()
@click.option("-a", "--attach", is_flag=True, help="Attach its output; exit with its code.")
@click.option("-i", "--interactive", is_flag=True, help="Attach its stdin.")
@click.argument("containers", nargs=-1, required=True)
def start(attach, interactive, containers):
    """Start created or stopped containers."""
    from pycontain.engine.lifecycle import start as start_container
    from pycontain.errors import PycontainError

    if (attach or interactive) and len(containers) > 1:
        raise PycontainError("you cannot start and attach multiple containers at once")
    for ref in containers:
        code = start_container(lookup(ref), attach or interactive, interactive)
        if attach or interactive:
            sys.exit(0 if code is None else code)
        click.echo(ref)


@cli.command()
@stop_options
@click.argument("containers", nargs=-1, required=True)
def restart(timeout, sig, containers):
    """Restart containers."""
    from pycontain.engine.lifecycle import restart as restart_container
    each(containers, lambda ctr: restart_container(ctr, timeout, sig))


@cli.command()
@click.argument("containers", nargs=-1, required=True)
def wait(containers):
    """Block until containers stop, then print their exit codes."""
    from pycontain.engine.lifecycle import wait as wait_container
    for ref in containers:
        click.echo(wait_container(lookup(ref)))


def _pause_command(name: str, frozen: bool, doc: str):
    """`pause` (frozen) or `unpause`: one engine call per container, its name echoed."""
    @cli.command(name, help=doc)
    @click.argument("containers", nargs=-1, required=True)
    def command(containers):
        from pycontain.engine.lifecycle import pause as pause_container
        each(containers, lambda ctr: pause_container(ctr, frozen))
    return command


pause = _pause_command("pause", True, "Pause (freeze) every process in containers.")
unpause = _pause_command("unpause", False, "Unpause (thaw) containers.")


@cli.command()
@click.argument("container")
@click.argument("new_name")
def rename(container, new_name):
    """Rename a container."""
    from pycontain.engine.lifecycle import rename as rename_container
    rename_container(lookup(container), new_name)


@cli.command(context_settings={"ignore_unknown_options": True,
                               "allow_interspersed_args": False})
@click.argument("container")
@click.argument("ps_args", nargs=-1, type=click.UNPROCESSED)
def top(container, ps_args):
    """Show a container's processes (ps options after the name; default -ef)."""
    from pycontain.engine.lifecycle import top as top_rows
    for row in top_rows(lookup(container), list(ps_args)):
        click.echo(row)


@cli.command()
@click.option("--no-stdin", is_flag=True, help="Do not attach stdin.")
@click.argument("container")
def attach(no_stdin, container):
    """Attach to a detached container's output (and input, if run with -i);
    exit with its exit code. With a terminal, ctrl-p ctrl-q detaches."""
    from pycontain.engine.lifecycle import attach_to
    code = attach_to(lookup(container), not no_stdin)
    sys.exit(0 if code is None else code)


@cli.command()
@click.option("--since", help="Show events from this time (unix seconds, RFC 3339, or 10m).")
@click.option("--until", help="Stop at this time (without it: follow forever).")
@click.option("--format", "fmt", help="json (one JSON object a line) or a Go template: "
              "'{{.Action}} {{.Actor.Attributes.name}}'.")
@click.option("-f", "--filter", "filters", multiple=True,
              help="container=NAME|ID, event=ACTION, type=container|image.")
def events(since, until, fmt, filters):
    """Show the engine's events (start, die, oom...), then new ones as they happen."""
    from pycontain import jsonio
    from pycontain.engine.events import format_line, read
    from pycontain.timefmt import parse_time
    from pycontain.errors import PycontainError

    template = None
    if fmt not in (None, "json", "{{json .}}"):
        from pycontain.cli.gotemplate import Template
        from pycontain.cli.listformat import split_format
        template = Template(split_format(fmt)[1], strict=False)
    wanted = {}
    for item in filters:
        key, eq, value = item.partition("=")
        if not eq or key not in ("container", "event", "type"):
            raise PycontainError(f"invalid --filter {item!r}: use container=, event= or type=")
        wanted.setdefault(key, set()).add(value)
    # docker: without --since, only new events (with --until alone, those before it)
    since_ns = parse_time(since) if since else (0 if until else time.time_ns())
    until_ns = parse_time(until) if until else None
    for record in read(since_ns, until_ns, follow=True):
        actor = record.get("Actor", {})
        if "container" in wanted and not any(
                v in (actor.get("Attributes", {}).get("name"), actor.get("ID"))
                or actor.get("ID", "").startswith(v) for v in wanted["container"]):
            continue
        if "event" in wanted and record.get("Action") not in wanted["event"]:
            continue
        if "type" in wanted and record.get("Type") not in wanted["type"]:
            continue
        if template is not None:
            click.echo(template.render(record))
        else:
            click.echo(jsonio.dumps(record, indent=None) if fmt else format_line(record))
