"""Storage layer: typed SQLAlchemy models, engine and session factory, migrations."""
