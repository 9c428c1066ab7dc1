"""The plugin test harness: a plugin's contract tests in one call each, in the style of singer-sdk::

    TestMySource = source_tests(MySource, sandbox=MySourceSandbox)
    TestMySink = sink_tests(MySink, sandbox=MySinkSandbox)

    TestMyFileSink = sink_tests(MyFileSink, settings=lambda tmp_path: {"path": str(tmp_path / "out.json")},
                                scenarios=[s for s in SINK_SCENARIOS if s.name not in NEED_A_SERVICE])

Suites are data: :data:`SOURCE_SCENARIOS`, :data:`SINK_SCENARIOS`, :data:`GROUP_SCENARIOS` (run for a
sink that holds groups) and :data:`SNAPSHOT_SCENARIOS` (run instead for a sink that takes snapshots) are
lists of named :class:`Scenario` objects, each generated test is named after its scenario, and ``scenarios=``
chooses which run. Both suites drive the plugin's own sandbox (:class:`hrsync.sandbox.SourceSandbox`
/ :class:`hrsync.sandbox.SinkSandbox`), which gives the settings and the refused credentials, or
take ``settings=`` for a connector that needs no service (it reads or writes a file).

Modules: ``scenarios`` (Scenario, suite builder, what both suites share), ``source_suite``,
``sink_suite``, ``group_scenarios``, ``snapshot_scenarios``, ``sink_view`` (a sink tested without a
sandbox), ``memory``, ``memory_groups`` and ``memory_snapshots`` (in-memory reference connectors and their
sandboxes), ``fixtures`` (the pytest plugin: ``memory_world``, ``hrsync_state``,
``smtp_capture``).
"""

from .group_scenarios import GROUP_SCENARIOS
from .memory import MemorySink, MemorySinkSandbox, MemorySource, MemoryWorld, memory_plugin
from .scenarios import Scenario, build_suite
from .sink_suite import SINK_SCENARIOS, SinkHarness, sink_tests
from .snapshot_scenarios import SNAPSHOT_SCENARIOS
from .source_suite import SOURCE_SCENARIOS, SourceHarness, source_tests

__all__ = [
    "GROUP_SCENARIOS", "MemorySink", "MemorySinkSandbox", "MemorySource", "MemoryWorld", "SINK_SCENARIOS",
    "SNAPSHOT_SCENARIOS", "SOURCE_SCENARIOS", "Scenario", "SinkHarness", "SourceHarness", "build_suite",
    "memory_plugin", "sink_tests", "source_tests",
]
