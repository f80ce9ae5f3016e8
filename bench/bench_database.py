"""Create the benchmarks' PostgreSQL database if it is missing (make bench runs this first).

    python bench/bench_database.py [URL]

URL defaults to KIA_BENCH_DATABASE_URL, else the one the benchmarks default to
(postgresql+psycopg://postgres@127.0.0.1:5432/kia_bench).  The database is made
through the server's ``postgres`` database, as its owner would with createdb.
"""

from __future__ import annotations

import os
import sys

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/kia_bench"


def main() -> None:
    url = make_url(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("KIA_BENCH_DATABASE_URL", DEFAULT_URL))
    server = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(server, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)).fetchone()
        if exists:
            print(f"database {url.database} is there")
            return
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(url.database))))
        print(f"database {url.database} created")


if __name__ == "__main__":
    main()
