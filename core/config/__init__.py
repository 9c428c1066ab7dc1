"""Stage 1 of a run: hosts.yaml, loaded and validated whole before anything runs.

:mod:`.schema` holds the file's marshmallow schemas and typed sections, :mod:`.mapping` and
:mod:`.scope` compile a connection's field rules and who is in scope, :mod:`.suggest` turns
unknown keys into "did you mean", and :mod:`.load` puts them together into a :class:`Config`.
"""

from .load import Config, ConnectionConfig, ConnectorConfig, config_path, load_config, parse_config

__all__ = ["Config", "ConnectionConfig", "ConnectorConfig", "config_path", "load_config", "parse_config"]
