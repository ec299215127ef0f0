"""The ``deblur`` command line: the group (:func:`main`) and its options; one module per command.

``run``, ``blur``, ``eval``, ``bench`` and ``train`` live in :mod:`.run`, :mod:`.blur`, :mod:`.evaluate`,
:mod:`.bench` and :mod:`.train`; ``list-methods``, ``list-components`` and ``plugins`` in :mod:`.listing`;
what several share (tables, JSON, the progress bar) in :mod:`._shared`. The ``KEY=VALUE`` options are read
by :mod:`deblur.settings`. Every module here imports only click and light deblur modules at the top, so
``deblur --help`` starts without torch, numpy or pluggy; the commands import the rest when they run.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from deblur.cli._shared import ProgressLine, progress_bar
from deblur.cli.bench import bench_command
from deblur.cli.blur import blur_command, make_kernel
from deblur.cli.evaluate import eval_command
from deblur.cli.listing import list_components, list_compositions, list_methods, plugins
from deblur.cli.run import check_distinct_stems, run_command
from deblur.cli.train import train_command
from deblur.errors import DeblurError
from deblur.settings import bench_settings, parse_settings, parse_train_settings, parse_uses

if TYPE_CHECKING:
    from deblur.plugins.manager import PluginManager
    from deblur.registry import Registry

__all__ = [
    "DeblurGroup",
    "ProgressLine",
    "State",
    "UserError",
    "bench_settings",
    "check_distinct_stems",
    "main",
    "make_kernel",
    "parse_settings",
    "parse_train_settings",
    "parse_uses",
    "progress_bar",
]

# OpenMP workers that spin while waiting steal the cores they wait for when the machine is shared
# (measured: one 255x255 deconvolution took 0.07 s on an idle machine and up to 15 s beside another job
# with spinning workers, at most 0.6 s without). Torch is imported lazily by the commands, so this lands
# before it loads; export OMP_WAIT_POLICY to choose otherwise.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class UserError(click.ClickException):
    """A :class:`DeblurError` shown as one line, exit code 2."""

    exit_code = 2


@dataclass
class State:
    debug: bool = False
    no_plugins: bool = False
    _registry: Registry | None = field(default=None, repr=False)

    def manager(self) -> PluginManager:
        from deblur.plugins.manager import PluginManager

        return PluginManager(allow=() if self.no_plugins else None)

    def registry(self) -> Registry:
        if self._registry is None:
            from deblur.registry import Registry

            self._registry = Registry(self.manager())
        return self._registry


def _enable_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_object(State).debug = True


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from deblur.plugins.manager import core_version

        click.echo(f"deblur, version {core_version()}")
        ctx.exit()


class DeblurGroup(click.Group):
    """Turns user errors into one line and exit code 2; ``--debug`` keeps the traceback.

    Every command also takes ``--debug`` after its name (``deblur run ... --debug``).
    """

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        cmd.params.append(
            click.Option(
                ["--debug"], is_flag=True, expose_value=False, callback=_enable_debug, help="Show tracebacks."
            )
        )
        super().add_command(cmd, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DeblurError as exc:
            if ctx.obj is not None and ctx.obj.debug:
                raise
            raise UserError(str(exc)) from None


@click.group(cls=DeblurGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version and exit.",
)
@click.option("--debug", is_flag=True, envvar="DEBLUR_DEBUG", help="Show tracebacks.")
@click.option("--no-plugins", is_flag=True, help="Load only core's built-in components.")
@click.pass_context
def main(ctx: click.Context, debug: bool, no_plugins: bool) -> None:
    """Blind image deblurring: estimate the blur kernel and the sharp image from a blurry photo."""
    ctx.obj = State(debug=debug, no_plugins=no_plugins)
    _warnings_to_stderr()


class _EchoHandler(logging.Handler):
    """Writes a record as ``deblur: message`` to the stderr current when it is emitted."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"deblur: {record.getMessage()}", err=True)


def _warnings_to_stderr() -> None:
    """Show the warnings deblur's modules log (e.g. ``--resume`` with no checkpoint) on stderr."""
    logger = logging.getLogger("deblur")
    if not any(isinstance(h, _EchoHandler) for h in logger.handlers):
        logger.addHandler(_EchoHandler(logging.WARNING))


for _command in (
    list_methods,
    list_components,
    list_compositions,
    plugins,
    run_command,
    blur_command,
    eval_command,
    bench_command,
    train_command,
):
    main.add_command(_command)
