"""Shared test configuration.

In CI (``CI`` set) a skipped test is a failure: a missing component must not
pass silently.
"""

from __future__ import annotations

import os

import pytest


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if os.environ.get("CI") and skipped and exitstatus == 0:
        reporter.write_line(f"CI: {skipped} test(s) skipped; in CI every component must be present", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# --- databases ---------------------------------------------------------------

POSTGRES_URL_ENV = "KIA_TEST_DATABASE_URL"


def _postgres_url() -> str | None:
    """The PostgreSQL URL for integration tests, or None outside CI when unset.

    In CI the URL must be set and reachable: a missing database fails the run.
    """
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.exit(f"CI: {POSTGRES_URL_ENV} is not set; the PostgreSQL tests cannot run", returncode=1)
        return None
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = _postgres_url()
    if url is None:
        pytest.skip(f"{POSTGRES_URL_ENV} is not set (make test sets it to the local PostgreSQL)")
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
    except OperationalError as exc:
        message = f"PostgreSQL at {POSTGRES_URL_ENV} is unreachable: {exc.orig}"
        if os.environ.get("CI"):
            pytest.exit(f"CI: {message}", returncode=1)
        pytest.skip(message)
    finally:
        engine.dispose()
    return url


def _empty_postgres(url: str) -> str:
    """Drop everything in the test database's public schema: each test starts empty."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def issuer_db_url(request: pytest.FixtureRequest) -> str | None:
    """Run the test on both databases: None means SQLite in the home folder."""
    if request.param == "sqlite":
        return None
    return _empty_postgres(request.getfixturevalue("postgres_url"))
