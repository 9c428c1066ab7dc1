"""The Personio source plugin: reads a company's employees through Personio's API v1.

Modules: ``client`` (HTTP: auth, paging, retries), ``source`` (the Source class, its
settings and record schemas), ``plugin`` (the hook implementation), ``sandbox`` (a
loopback server that behaves like Personio, for tests, the demo and benchmarks).
"""
