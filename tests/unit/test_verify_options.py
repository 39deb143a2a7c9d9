"""`migrate verify`'s options are judged before any server is contacted (the URLs here answer nothing)."""

from __future__ import annotations

import pytest

from migrator.errors import Code, MigratorError
from migrator.verify import verify

NOWHERE = ("redis://127.0.0.1:1", "redis://127.0.0.1:2")  # would be Unreachable if contacted first


@pytest.mark.parametrize(
    ("option", "named"),
    [
        ({"rounds": 0}, "--rounds"),
        ({"sample": 0.0}, "--sample"),
        ({"sample": 1.5}, "--sample"),
        ({"ttl_tolerance_ms": -1}, "--ttl-tolerance"),
    ],
)
def test_a_bad_option_is_refused_before_connecting(option: dict[str, float], named: str) -> None:
    with pytest.raises(MigratorError) as caught:
        verify(*NOWHERE, **option)
    assert caught.value.code == Code.INVALID_VALUE and named in caught.value.message
