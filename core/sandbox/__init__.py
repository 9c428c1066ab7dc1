"""Loopback stand-ins for real services, for tests, the harness, ``hrsync sandbox`` and ``hrsync demo``.

What a plugin's sandbox builds on: the contract (:class:`Sandbox`, :class:`SourceSandbox`,
:class:`SinkSandbox`, :class:`LoopbackServer`, the shared admin API in :func:`admin_answer`) and
an HTTP/1.1 keep-alive server with request counting (:mod:`.http`). :mod:`.smtp` is the SMTP
server that captures report e-mails; :mod:`.snapshots` the sandbox of a sink that takes whole
files. Nothing here runs in a real sync.
"""

from .contract import LoopbackServer, Sandbox, SinkSandbox, SourceSandbox, Write, admin_answer
from .http import KeepAliveHandler, KeepAliveServer, RequestCounter
from .snapshots import SnapshotSinkSandbox

__all__ = [
    "KeepAliveHandler",
    "KeepAliveServer",
    "LoopbackServer",
    "RequestCounter",
    "Sandbox",
    "SinkSandbox",
    "SnapshotSinkSandbox",
    "SourceSandbox",
    "Write",
    "admin_answer",
]
