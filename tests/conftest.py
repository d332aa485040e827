"""Shared test configuration: fixtures come from plugin modules, one per concern."""

pytest_plugins = [
    "plugins.api_server",
    "plugins.environment",
    "plugins.leaks",
    "plugins.signals",
    "plugins.threaded_server",
    "plugins.tls",
]
