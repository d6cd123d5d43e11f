"""The test suite, a package so every test module imports as `tests.<folder>.<module>`.

pytest runs with `--import-mode=importlib` (pyproject.toml), which puts nothing on
`sys.path`: a test folder named like a package (`tests/callbacks`) cannot shadow
`jobstream.callbacks`, and the checkout's top-level folders (`events/`, `callbacks/`, ...)
are not importable under their bare names, so a test imports only what a user installs.
Helpers are imported package-relative (`from ..polling import eventually`).
"""
