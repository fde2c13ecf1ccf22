"""Container commands (run, ps, inspect, logs, stop, kill, rm, exec, images,
import): parse, call the library, format output. Nothing else."""
import sys

import click

from pycontain.cli.entry import run_and_exit
from pycontain.cli.group import cli, each, lookup, run_flag_options, stop_options


@cli.command(context_settings={"ignore_unknown_options": False,
                               "allow_interspersed_args": False})
@run_flag_options
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def run(image, command, **values):
    """Run COMMAND in a new container from IMAGE."""
    run_and_exit(values, image, command)


@cli.command()
@click.option("-a", "--all", "show_all", is_flag=True, help="Show stopped containers too.")
@click.option("--format", "fmt", help="table, json, or a Go template: 'table {{.ID}}\\t{{.Names}}'.")
@click.option("-f", "--filter", "filters", multiple=True,
              help="name=, id=, status=, ancestor=, label=K[=V], exited=N, network=.")
@click.option("-n", "--last", type=int, default=-1, help="Show the N last created containers.")
@click.option("-l", "--latest", is_flag=True, help="Show the last created container.")
@click.option("--no-trunc", is_flag=True, help="Do not truncate ids and commands.")
@click.option("-q", "--quiet", is_flag=True, help="Only print ids.")
def ps(show_all, fmt, filters, last, latest, no_trunc, quiet):
    """List containers."""
    from pycontain.cli.ps_output import print_ps
    print_ps(show_all, fmt, quiet, filters, no_trunc, 1 if latest else last)


@cli.command()
@click.option("-f", "--format", "fmt", help="A Go template: '{{.State.Status}}'.")
@click.argument("containers", nargs=-1, required=True)
def inspect(fmt, containers):
    """Show containers' configuration and state as JSON."""
    from pycontain.cli.listformat import print_inspect
    from pycontain.engine.inspect import inspect as describe
    print_inspect([describe(lookup(ref)) for ref in containers], fmt)


@cli.command()
@click.option("-f", "--follow", is_flag=True, help="Keep printing new output until it exits.")
@click.option("-n", "--tail", default="all", show_default=True,
              help="Lines to show from the end of the log.")
@click.option("--since", help="Show lines since a time: RFC 3339, Unix seconds, or 10m.")
@click.option("--until", help="Show lines before a time: RFC 3339, Unix seconds, or 10m.")
@click.option("-t", "--timestamps", is_flag=True, help="Show each line's time.")
@click.argument("container")
def logs(follow, tail, since, until, timestamps, container):
    """Print the output of a detached container (its stdout to stdout, its
    stderr to stderr)."""
    from pycontain.engine.logs import Query, parse_tail, show
    from pycontain.timefmt import parse_time
    query = Query(tail=parse_tail(tail), since_ns=parse_time(since) if since else 0,
                  until_ns=parse_time(until) if until else None, follow=follow,
                  timestamps=timestamps)
    sys.stdout.flush()
    try:
        show(lookup(container), query)
    except BrokenPipeError:  # `logs NAME | head`
        sys.exit(0)


@cli.command()
@stop_options
@click.argument("containers", nargs=-1, required=True)
def stop(timeout, sig, containers):
    """Stop containers: their stop signal, then SIGKILL."""
    from pycontain.engine.container import stop as stop_container
    each(containers, lambda ctr: stop_container(ctr, timeout, sig))


@cli.command()
@click.option("-s", "--signal", "sig", default="KILL", show_default=True,
              help="Signal name or number.")
@click.argument("containers", nargs=-1, required=True)
def kill(sig, containers):
    """Send a signal to containers' main processes."""
    from pycontain.engine.container import kill as kill_container
    from pycontain.oci.signals import parse_signal
    signum = parse_signal(sig)
    each(containers, lambda ctr: kill_container(ctr, signum))


@cli.command()
@click.option("-f", "--force", is_flag=True, help="Kill a running container first.")
@click.option("-v", "--volumes", is_flag=True, help="Remove its anonymous volumes too.")
@click.argument("containers", nargs=-1, required=True)
def rm(force, volumes, containers):
    """Remove containers."""
    from pycontain.engine.container import remove
    each(containers, lambda ctr: remove(ctr, force, volumes))


@cli.command(name="exec", context_settings={"allow_interspersed_args": False})
@click.option("-i", "--interactive", is_flag=True, help="Keep stdin open.")
@click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-terminal.")
@click.option("-e", "--env", multiple=True, help="Set an environment variable.")
@click.option("-w", "--workdir", help="Working directory inside the container.")
@click.option("-u", "--user", help="User: NAME|UID[:GROUP|GID].")
@click.argument("container")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_(interactive, tty, env, workdir, user, container, command):
    """Run COMMAND inside a running container."""
    from pycontain.engine.execute import ExecOptions, execute
    sys.exit(execute(lookup(container), ExecOptions(
        command=list(command), interactive=interactive, tty=tty, env=list(env),
        workdir=workdir, user=user)))


@cli.command()
@click.option("--format", "fmt", help="table, json, or a Go template: 'table {{.Repository}}'.")
@click.option("-f", "--filter", "filters", multiple=True,
              help="reference=PATTERN, dangling=true|false, label=K[=V], before=, since=.")
@click.option("-a", "--all", "show_all", is_flag=True, help="Accepted (no intermediate images).")
@click.option("--digests", is_flag=True, help="Show digests.")
@click.option("--no-trunc", is_flag=True, help="Do not truncate ids.")
@click.option("-q", "--quiet", is_flag=True, help="Only print image ids.")
def images(fmt, filters, show_all, digests, no_trunc, quiet):
    """List images in the local store."""
    from pycontain.cli.image_output import print_images
    print_images(fmt, quiet, filters, no_trunc, digests)


@cli.command(name="import")
@click.argument("source")
@click.argument("name", required=False)
def import_(source, name):
    """Import an image: oci:DIR[:TAG] (an OCI image layout), or a rootfs
    TARBALL or DIR as a one-layer image NAME[:TAG]."""
    from pycontain.cli.image_output import import_image
    import_image(source, name)
