"""Where the office keeps its state, in one place.

    models        the tables (SQLAlchemy), the one schema every module reads and writes
    db            the engine: SQLite in the home (WAL) or PostgreSQL from KIA_DATABASE_URL
    migrate       Alembic run from code (init, ``kia issuer db upgrade``)
    migrations/   the revisions, each with upgrade() and downgrade()
    store         the office's home folder and its database: IssuerHome, one transaction per change
    legacy        the first version's kia-issuer.json, imported once
"""
