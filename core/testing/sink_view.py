"""A sink tested without a sandbox, seen through itself: what it lists, and the writes the engine asked of it.

A sink that writes to a file (or anything else on this machine) needs no stand-in service:
``sink_tests(MySink, settings=…)`` builds a :class:`SinkView` instead of a sandbox. It is a
:class:`hrsync.sandbox.SinkSandbox` whose ``held()`` is the sink's own ``list_people()``, whose ``seed()``
creates people through the sink, and whose ``writes()`` are the sink calls the engine made
(through :attr:`SinkView.connector`, a recording subclass the harness registers in the sink's
place). It cannot throttle or refuse anyone: scenarios that need that say so.
"""

from __future__ import annotations

import threading
from typing import Any

from marshmallow import EXCLUDE

from ..connectors import Defer, RunContext, Sink, SinkPerson
from ..sandbox.contract import REJECTING_SCENARIO, THROTTLING_SCENARIOS, SinkSandbox, Write


class SinkView(SinkSandbox):
    """The sink's own view of what it holds, standing in for a sandbox; ``connector`` records its writes."""

    def __init__(self, sink_class: type[Sink], settings: dict[str, Any]) -> None:
        self.sink_class, self._settings = sink_class, settings
        self.name = sink_class.name
        self._calls: list[Write] = []
        self._seen = 0
        self._lock = threading.Lock()
        self.connector: type[Sink] = self._recording(sink_class)

    def _recording(self, sink_class: type[Sink]) -> type[Sink]:
        """A subclass of the sink that notes each write the engine asks for, before the sink does it."""
        note = self._note

        class Recording(sink_class):
            def create(self, record: dict[str, Any]) -> SinkPerson:
                note(Write("create"))
                return super().create(record)

            def update(self, sink_id: str, changes: dict[str, Any], record: dict[str, Any]) -> SinkPerson | None:
                note(Write("update", frozenset(changes)))
                return super().update(sink_id, changes, record)

            def deactivate(self, sink_id: str) -> None:
                note(Write("deactivate"))
                super().deactivate(sink_id)

        Recording.__name__ = Recording.__qualname__ = sink_class.__name__
        return Recording

    def _note(self, write: Write) -> None:
        with self._lock:
            self._calls.append(write)

    def _sink(self) -> Sink:
        loaded = self.sink_class.ConfigSchema().load(self._settings)
        return self.sink_class(loaded, RunContext("harness"))

    def connector_settings(self) -> dict[str, Any]:
        return dict(self._settings)

    def held(self) -> list[dict[str, Any]]:
        with self._sink() as sink:
            sink.open()
            return [dict(person.record) for person in sink.list_people()]

    def writes(self) -> list[Write]:
        with self._lock:
            return self._calls[self._seen:]

    def clear(self) -> None:
        with self._lock:
            self._seen = len(self._calls)

    def seed(self, records: list[dict[str, Any]]) -> None:
        """Create these people through the sink itself (loaded and prepared as a run would), not counted."""
        schema = self.sink_class.RecordSchema(unknown=EXCLUDE)
        with self._sink() as sink:
            sink.open()
            for record in records:
                desired = sink.prepare(schema.load(record))
                if not isinstance(desired, Defer):
                    sink.create(desired)

    def throttle(self, count: int, status: int) -> None:
        raise NotImplementedError(
            f"{self.sink_class.__name__} is tested without a sandbox, which cannot answer {status}: "
            f"{self._without('throttling scenarios', *THROTTLING_SCENARIOS)}")

    def reject(self, email: str) -> None:
        raise NotImplementedError(
            f"{self.sink_class.__name__} is tested without a sandbox, which cannot refuse one person: "
            f"{self._without('scenario', REJECTING_SCENARIO)}")

    @staticmethod
    def _without(what: str, *names: str) -> str:
        return (f"pass scenarios=… to sink_tests without the {what} ({', '.join(names)}), or pass a sandbox= that "
                "can do this")
