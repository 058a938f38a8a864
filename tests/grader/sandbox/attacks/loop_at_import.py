# ruff: noqa
"""Never finishes loading: an infinite loop at the top level."""

while True:
    pass
