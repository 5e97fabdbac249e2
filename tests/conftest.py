"""Shared fixtures. Each local-cloud stand-in brings its fixtures as a plugin under tests/plugins/."""

pytest_plugins = [
    "tests.plugins.azurite",
    "tests.plugins.servicebus",
    "tests.plugins.armsim",
]
