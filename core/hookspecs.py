"""The hook specifications: every way a plugin can extend hrsync, in one module.

A plugin is a module (or object) registered under the ``hrsync`` entry-point group,
whose functions are decorated with :data:`hrsync.hookimpl` and named after a hook
below. Each hook receives a ``register`` callback, in the style of llm: the plugin
calls it once per class it contributes. The host rejects a name that two plugins
register, naming both. Documentation with examples: docs/plugins.md.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("hrsync")


@hookspec
def register_sources(register):
    """Contribute source plugins (HR systems).

    Called once, when the host is built, for every loaded plugin.

    :param register: call ``register(SourceClass)`` for each :class:`hrsync.Source`
        subclass the plugin provides; its ``name`` is the value used as
        ``source.plugin`` in hosts.yaml.
    :returns: nothing; the return value is ignored.
    """


@hookspec
def register_sinks(register):
    """Contribute sink plugins (apps that receive the employee list).

    Called once, when the host is built, for every loaded plugin.

    :param register: call ``register(SinkClass)`` for each :class:`hrsync.Sink`
        subclass the plugin provides; its ``name`` is the value used as
        ``sink.plugin`` in hosts.yaml.
    :returns: nothing; the return value is ignored.
    """


@hookspec
def register_sandboxes(register):
    """Contribute sandboxes: loopback servers that behave like a plugin's real service.

    Called once, when the host is built, for every loaded plugin. ``hrsync sandbox``
    and ``hrsync demo`` start them; tests and benchmarks may too.

    :param register: call ``register(SandboxClass)`` for each :class:`hrsync.sandbox.SourceSandbox`
        or :class:`hrsync.sandbox.SinkSandbox` subclass; its ``name`` must be the name of the source or
        sink it stands in for.
    :returns: nothing; the return value is ignored.
    """
