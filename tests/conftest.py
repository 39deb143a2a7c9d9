"""Fixtures any test asks for by name live in tests/helpers, registered here (see tests/README.md)."""

pytest_plugins = [
    "tests.helpers.isolation",
    "tests.helpers.servers",
    "tests.helpers.cli",
    "tests.helpers.aws",
    "tests.helpers.terraform",
    "tests.helpers.verify_data",
]
