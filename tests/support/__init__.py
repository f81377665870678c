"""Helpers shared by the integration and end-to-end tests: real git repositories, a live server, fake services.

pytest puts ``tests/`` on the import path (``pythonpath`` in pyproject.toml), so tests import
``support.gitfixtures`` and friends; no test module imports another test module.
"""
