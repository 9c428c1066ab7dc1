"""Hook implementations of the Winningtemp plugin (entry point ``winningtemp`` in group ``hrsync``)."""

from hrsync import hookimpl

from .file_sandbox import WinningtempFileSandbox
from .file_sink import WinningtempFileSink
from .sandbox import ScimSandbox
from .sink import WinningtempSink


@hookimpl
def register_sinks(register):
    register(WinningtempSink)
    register(WinningtempFileSink)


@hookimpl
def register_sandboxes(register):
    register(ScimSandbox)
    register(WinningtempFileSandbox)
