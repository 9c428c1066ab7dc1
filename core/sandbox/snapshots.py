"""The sandbox of a snapshot sink: a service that receives whole files, and can refuse them.

A :class:`SnapshotSinkSandbox` is a :class:`~hrsync.sandbox.SinkSandbox` whose ``held()`` is what its
last delivery held and whose ``writes()`` are its deliveries (``Write("deliver")``). The harness's
snapshot scenarios (:data:`hrsync.testing.SNAPSHOT_SCENARIOS`) turn deliveries away with
:meth:`refuse_deliveries`; ``hrsync demo`` shows :meth:`preview`, the files as the app would read them.
"""

from __future__ import annotations

from typing import Any

from .contract import SinkSandbox


class SnapshotSinkSandbox(SinkSandbox):
    """A snapshot sink's service."""

    def refuse_deliveries(self, refuse: bool) -> None:
        """Fail every delivery (a full disk, a refused upload) while ``refuse`` holds; nothing it held changes."""
        raise NotImplementedError(f"{type(self).__name__} cannot refuse a delivery: implement refuse_deliveries(), "
                                  "or pass scenarios=… to sink_tests without failed_delivery_is_delivered_again.")

    def preview(self, lines: int = 5) -> list[str]:
        """The first ``lines`` lines of each file it holds, for a person to read; sensitive values masked."""
        return []

    def seed(self, records: list[dict[str, Any]]) -> None:
        raise NotImplementedError("a snapshot sink's service holds only what hrsync delivered")
