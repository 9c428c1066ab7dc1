"""The plugin registry: loads plugins and is the one typed facade through which hrsync reaches them.

Vocabulary: a *plugin* is a module registered under the ``hrsync`` entry-point group
(or passed in by a test); through the hooks of :mod:`hrsync.hookspecs` it contributes
*connectors* (:class:`~hrsync.Source` and :class:`~hrsync.Sink` classes, each with a
``name``) and *sandboxes*. Built by :func:`load_plugins` (the pluggy eggsample
pattern: a factory, nothing loaded at import time). Code elsewhere calls
``plugins.source_class(name)`` / ``plugins.sink_class(name)``, never ``pm.hook``.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import pluggy

from . import hookspecs
from .connectors import Connector, Sink, Source
from .errors import PluginError
from .sandbox.contract import Sandbox

ENTRY_POINT_GROUP = "hrsync"
DISABLE_ENV = "HRSYNC_DISABLE_PLUGINS"


@dataclass
class PluginInfo:
    """A loaded plugin: its entry-point name, its distribution and version, what it contributed."""

    name: str
    distribution: str | None = None
    version: str | None = None
    sources: list[str] = field(default_factory=list)
    sinks: list[str] = field(default_factory=list)


class Plugins:
    """The registry of connectors and sandboxes contributed by loaded plugins."""

    def __init__(self, pm: pluggy.PluginManager, infos: dict[str, PluginInfo]) -> None:
        self._pm = pm
        self.plugins = infos
        self._sources: dict[str, tuple[type[Source], str]] = {}
        self._sinks: dict[str, tuple[type[Sink], str]] = {}
        self._sandboxes: dict[str, tuple[type, str]] = {}
        self._collect("register_sources", Source, self._sources)
        self._collect("register_sinks", Sink, self._sinks)
        self._collect("register_sandboxes", Sandbox, self._sandboxes)

    def _collect(self, hook_name: str, base: type, registry: dict) -> None:
        kind = base.kind or "sandbox"
        # Each implementation is called on its own, so a duplicate can name both plugins.
        for impl in getattr(self._pm.hook, hook_name).get_hookimpls():
            plugin_name = impl.plugin_name

            def register(cls: type, _plugin: str = plugin_name) -> None:
                if not (isinstance(cls, type) and issubclass(cls, base)):
                    raise PluginError(
                        f"Plugin {_plugin!r} registered {cls!r} as a {kind}, "
                        f"but it is not a subclass of hrsync.{base.__name__}.",
                        plugin=_plugin,
                    )
                if not cls.name:
                    raise PluginError(f"Plugin {_plugin!r} registered a {kind} class without a name.", plugin=_plugin)
                if base is Sandbox and cls.kind not in ("source", "sink"):
                    raise PluginError(f"Plugin {_plugin!r} registered the sandbox {cls.__name__}, which is neither a "
                                      "hrsync.sandbox.SourceSandbox nor a hrsync.sandbox.SinkSandbox.", plugin=_plugin)
                key = f"{cls.kind}:{cls.name}" if base is Sandbox else cls.name
                if key in registry:
                    other = registry[key][1]
                    raise PluginError(
                        f"The {kind} name {cls.name!r} is registered by two plugins: "
                        f"{other!r} and {_plugin!r}. Uninstall one, or block it with {DISABLE_ENV}={_plugin}.",
                        plugin=_plugin,
                    )
                registry[key] = (cls, _plugin)
                info = self.plugins.setdefault(_plugin, PluginInfo(_plugin))
                if base is not Sandbox:
                    (info.sources if kind == "source" else info.sinks).append(cls.name)

            try:
                impl.function(register=register)
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(
                    f"Plugin {plugin_name!r} failed in {hook_name}: {type(exc).__name__}: {exc}",
                    plugin=plugin_name,
                ) from exc

    def source_class(self, name: str) -> type[Source]:
        """The source class registered as ``name``; PluginError lists the known ones."""
        return self._lookup(self._sources, name, "source")

    def sink_class(self, name: str) -> type[Sink]:
        """The sink class registered as ``name``; PluginError lists the known ones."""
        return self._lookup(self._sinks, name, "sink")

    def plugin_of(self, cls: type[Connector]) -> PluginInfo:
        """The plugin that registered the connector ``cls``."""
        registry = self._sources if cls.kind == "source" else self._sinks
        return self.plugins[registry[cls.name][1]]

    @staticmethod
    def _lookup(registry: dict, name: str, kind: str):
        try:
            return registry[name][0]
        except KeyError:
            known = ", ".join(sorted(registry)) or "none"
            raise PluginError(f"No {kind} named {name!r} is installed (known: {known}).", plugin=name) from None

    def sandboxes(self, kind: str) -> dict[str, type[Sandbox]]:
        """Registered sandboxes of ``kind`` ("source" or "sink"), by the name of the connector they stand in for."""
        return {cls.name: cls for key, (cls, _) in sorted(self._sandboxes.items()) if cls.kind == kind}

    @property
    def sources(self) -> dict[str, type[Source]]:
        return {name: cls for name, (cls, _) in sorted(self._sources.items())}

    @property
    def sinks(self) -> dict[str, type[Sink]]:
        return {name: cls for name, (cls, _) in sorted(self._sinks.items())}


def disabled_from_env() -> set[str]:
    return {name.strip() for name in os.environ.get(DISABLE_ENV, "").split(",") if name.strip()}


def load_plugins(
    *,
    entry_points: bool = True,
    plugins: Iterable[tuple[str, object]] = (),
    disabled: Iterable[str] | None = None,
) -> Plugins:
    """Build a plugin manager and the :class:`Plugins` facade over it.

    :param entry_points: load the ``hrsync`` entry-point group (installed plugins).
    :param plugins: extra ``(name, module_or_object)`` pairs to register, for tests.
    :param disabled: plugin names to block; defaults to ``$HRSYNC_DISABLE_PLUGINS``.
    """
    blocked = disabled_from_env() if disabled is None else set(disabled)
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    infos: dict[str, PluginInfo] = {}
    for name in blocked:
        pm.set_blocked(name)
    if entry_points:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in blocked or pm.get_plugin(ep.name) is not None:
                continue
            dist = ep.dist.name if ep.dist else None
            try:
                module = ep.load()
            except Exception as exc:
                raise PluginError(
                    f"Plugin {ep.name!r} (entry point {ep.value}"
                    + (f", distribution {dist}" if dist else "")
                    + f") failed to import: {type(exc).__name__}: {exc}. "
                    f"Fix or uninstall it, or block it with {DISABLE_ENV}={ep.name}.",
                    plugin=ep.name,
                ) from exc
            pm.register(module, name=ep.name)
            infos[ep.name] = PluginInfo(ep.name, dist, ep.dist.version if ep.dist else None)
    for name, module in plugins:
        if name in blocked:
            continue
        pm.register(module, name=name)
        infos[name] = PluginInfo(name)
    try:
        # A hookimpl whose name matches no hookspec (a typo) would otherwise be ignored silently.
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        name = pm.get_name(exc.plugin)
        raise PluginError(f"Plugin {name!r} implements a hook hrsync does not have: {exc}. "
                          "Check the function names against docs/plugins.md.", plugin=name) from None
    return Plugins(pm, infos)
