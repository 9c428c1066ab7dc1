"""Hook implementations of the Winningtemp plugin (entry point ``winningtemp`` in group ``hrsync``)."""

from hrsync import hookimpl

from .sink import WinningtempSink


@hookimpl
def register_sinks(register):
    register(WinningtempSink)
