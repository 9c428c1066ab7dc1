"""The Winningtemp sink plugin: provisions users into Winningtemp over SCIM 2.0.

Modules: ``client`` (SCIM HTTP: paging, filters, PATCH, retries), ``sink`` (the Sink
class: settings, record schema, status rules, invitations), ``plugin`` (the hook
implementation), ``sandbox`` (scim2-server from PyPI on loopback, with our extension).
"""
