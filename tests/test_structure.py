"""Guards on the tree: layer direction, migrations equal to models, catalogs complete."""

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from handlers.i18n import catalog
from storage.models import Base

ROOT = Path(__file__).resolve().parent.parent


def test_layers_point_one_way_and_handlers_know_no_chat_app() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports)], capture_output=True, text=True, cwd=ROOT, check=False)

    assert "Contracts: 2 kept, 0 broken." in result.stdout, result.stdout + result.stderr


def test_migrations_create_exactly_the_models(sqlite_template: Path) -> None:
    engine = create_engine(f"sqlite:///{sqlite_template}")
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)

    assert differences == []


def test_every_text_exists_in_indonesian_and_english() -> None:
    texts = catalog()

    assert sorted(set(texts["id"]) ^ set(texts["en"])) == []


def test_placeholders_match_between_languages() -> None:
    import string

    def fields(template: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}

    texts = catalog()
    mismatched = [key for key in texts["id"] if key in texts["en"] and fields(texts["id"][key]) != fields(texts["en"][key])]
    assert mismatched == []
