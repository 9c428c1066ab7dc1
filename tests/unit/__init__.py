"""The unit lane: fast tests of one stage each (see tests/unit/conftest.py)."""
