"""Guards on the tree: layer direction, migrations equal to models, catalogs complete."""

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from handlers.kernel.i18n import catalog
from storage.models import Base

ROOT = Path(__file__).resolve().parent.parent


def test_layers_point_one_way_and_handlers_know_no_chat_app() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports)], capture_output=True, text=True, cwd=ROOT, check=False)

    assert "Contracts: 3 kept, 0 broken." in result.stdout, result.stdout + result.stderr


def test_no_module_imports_itself_through_others() -> None:
    import grimp

    graph = grimp.build_graph("bot", "handlers", "storage", "scheduler", "benchmarks", cache_dir=None)

    assert import_cycles(graph) == []


def import_cycles(graph: object) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    imported_by = graph.find_modules_directly_imported_by  # type: ignore[attr-defined]
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in imported_by(module):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == module:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(graph.modules):  # type: ignore[attr-defined]
        if module not in index:
            visit(module)
    return cycles


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
