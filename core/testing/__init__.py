"""The plugin test harness: a plugin's contract tests in one call each, in the style of singer-sdk::

    TestMySource = source_tests(MySource, sandbox=MySourceSandbox)
    TestMySink = sink_tests(MySink, sandbox=MySinkSandbox)

Suites are data: :data:`SOURCE_SCENARIOS` and :data:`SINK_SCENARIOS` are lists of named
:class:`Scenario` objects, and each generated test is named after its scenario. Both
suites drive the plugin's own sandbox (:class:`hrsync.SourceSandbox` /
:class:`hrsync.SinkSandbox`): settings come from it, and so do refused credentials.

Modules: ``scenarios`` (Scenario, suite builder), ``source_suite``, ``sink_suite``,
``memory`` (in-memory reference connectors and their sandbox), ``fixtures`` (the pytest
plugin: ``memory_world``, ``hrsync_state``, ``smtp_capture``).
"""

from .memory import MemorySink, MemorySinkSandbox, MemorySource, MemoryWorld, memory_plugin
from .scenarios import Scenario, build_suite
from .sink_suite import SINK_SCENARIOS, SinkHarness, sink_tests
from .source_suite import SOURCE_SCENARIOS, SourceHarness, source_tests

__all__ = [
    "MemorySink", "MemorySinkSandbox", "MemorySource", "MemoryWorld", "SINK_SCENARIOS", "SOURCE_SCENARIOS",
    "Scenario", "SinkHarness", "SourceHarness", "build_suite", "memory_plugin", "sink_tests", "source_tests",
]
