"""``host.celery``: how this host's connections run on Celery workers (``hrsync worker``, ``hrsync schedule``).

Data flow: :class:`hrsync.config.schema.HostSchema` loads this section into a :class:`CeleryConfig`;
:mod:`hrsync.service.celery_app` builds the Celery app, the queue and the Redis lease from it. The broker
URL is written without a password (the password is a secret reference of its own), so hosts.yaml, logs and
``hrsync check`` never carry it.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates, validates_schema

from ..secrets import Secret, SecretField

#: Letters, digits, '.', '_' and '-': a queue name that is also safe inside Redis keys and log lines.
QUEUE_NAME = validate.Regexp(r"^[A-Za-z0-9._-]{1,100}\Z", error="Queue names use letters, digits, '.', '_' and '-'.")


@dataclass(frozen=True)
class CeleryConfig:
    """``host.celery``: the broker, this host's queue, and the limits of a run on a worker."""

    broker: str
    broker_password: Secret | None
    queue: str
    visibility_timeout: float
    lease_seconds: float
    retry_delay: float
    retries: int

    def broker_url(self) -> str:
        """The URL Celery connects to, with the password put in (never logged: kombu masks it)."""
        if self.broker_password is None:
            return self.broker
        parts = urllib.parse.urlsplit(self.broker)
        netloc = f":{urllib.parse.quote(self.broker_password.reveal(), safe='')}@{parts.netloc}"
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


class CelerySchema(Schema):
    class Meta:
        unknown = RAISE

    broker = fields.String(load_default="redis://127.0.0.1:6379/0", metadata={
        "description": "Redis URL of the broker, without a password (redis:// or rediss://)."})
    broker_password = SecretField(load_default=None, metadata={"description": "The broker's password."})
    queue = fields.String(load_default="hrsync", validate=QUEUE_NAME, metadata={
        "description": "The queue this host's workers consume and its connections' runs are sent to."})
    visibility_timeout = fields.Float(load_default=21600.0, validate=validate.Range(min=1), metadata={
        "description": "Seconds before the broker hands an unacknowledged run to another worker."})
    lease_seconds = fields.Float(load_default=60.0, validate=validate.Range(min=1), metadata={
        "description": "Seconds a connection's lease outlives a worker that stopped renewing it."})
    retry_delay = fields.Float(load_default=60.0, validate=validate.Range(min=0), metadata={
        "description": "Seconds before a stopped or blocked run is tried again (doubled each time)."})
    retries = fields.Integer(load_default=5, validate=validate.Range(0, 100), metadata={
        "description": "Times one scheduled run is tried again before it waits for the next slot."})

    @validates("broker")
    def _redis_without_password(self, value: str, **kwargs) -> None:
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in ("redis", "rediss"):
            raise ValidationError("Use a Redis URL: redis://HOST:PORT/DB (or rediss:// for TLS).")
        if parts.password is not None:
            raise ValidationError("Write the broker URL without its password; put the password in "
                                  "broker_password (${ENV_VAR} or {file: PATH}).")

    @validates_schema
    def _runs_fit_the_visibility_timeout(self, data, **kwargs) -> None:
        # A countdown longer than the visibility timeout would be handed to a second worker while it waits.
        longest_wait = data["retry_delay"] * 2 ** max(data["retries"] - 1, 0)
        if data["lease_seconds"] >= data["visibility_timeout"] or longest_wait >= data["visibility_timeout"]:
            raise ValidationError("visibility_timeout must exceed lease_seconds and the longest retry wait "
                                  f"(retry_delay × 2^(retries-1) = {longest_wait:g} s).", "visibility_timeout")

    @post_load
    def _make(self, data, **kwargs) -> CeleryConfig:
        return CeleryConfig(**data)
