"""The sandbox's web plugin: its pages and commands (loaded only while the sandbox plugin is)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from b2bgateway_web.hookspecs import hookimpl

if TYPE_CHECKING:
    import click
    from flask import Blueprint

    from b2bgateway.gateway import Gateway


@hookimpl
def b2bgateway_web_register_blueprints(
    register: Callable[[Blueprint], None], gateway: Gateway
) -> None:
    from b2bgateway_web.plugins.sandbox import pages

    register(pages.bp)


@hookimpl
def b2bgateway_web_register_commands(cli: click.Group) -> None:
    from b2bgateway_web.plugins.sandbox import commands

    cli.add_command(commands.sandbox)
