"""The office hashes passwords with Argon2id at argon2-cffi's production parameters.

The integration tests swap in a cheap hasher (tests/integration/issuer/conftest.py);
this checks that the service's own hasher is the real one.
"""

from __future__ import annotations

from argon2 import PasswordHasher, Type

from issuer.people import _HASHER


def test_the_service_hashes_with_argon2id_at_the_library_defaults() -> None:
    defaults = PasswordHasher()
    hasher = _HASHER
    assert hasher.type is Type.ID
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (
        defaults.time_cost, defaults.memory_cost, defaults.parallelism)
    assert hasher.memory_cost >= 64 * 1024  # KiB: at least 64 MiB per hash
