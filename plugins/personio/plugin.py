"""Hook implementations of the Personio plugin (entry point ``personio`` in group ``hrsync``)."""

from hrsync import hookimpl

from .sandbox import PersonioSandbox
from .source import PersonioSource


@hookimpl
def register_sources(register):
    register(PersonioSource)


@hookimpl
def register_sandboxes(register):
    register(PersonioSandbox)
