"""The plugins bundled with hrsync. Each registers through the ``hrsync`` entry-point group,
exactly as a third-party plugin would, and imports only hrsync's public surface."""
