"""hrsync's benchmarks (issue 16): speed and memory measured on the local sandboxes, never asserted in tests.

``python -m benchmarks`` (``make bench``) runs every scenario, prints a table of the figures and of
each target with PASS/MISS, and writes the same as JSON. See benchmarks/README.md.
"""
