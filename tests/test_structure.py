"""Guards on the tree: layer direction, migrations equal to models, catalogs complete."""

import ast
import re
import subprocess
import sys
from functools import cache
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


# Catalog keys are literals so that grep finds every use of a text and a test finds a missing one.
KEY_SHAPE = re.compile(r"[a-z]+\.[a-z0-9_]+")


@cache
def code_trees() -> dict[str, ast.Module]:
    """Every module of the code that shows texts, by path relative to the root."""
    return {path.relative_to(ROOT).as_posix(): ast.parse(path.read_text(encoding="utf-8"))
            for folder in ("bot", "handlers", "scheduler") for path in sorted((ROOT / folder).rglob("*.py"))}


def namespaces() -> tuple[str, ...]:
    """The prefixes of the catalogs' keys: "core.", "tgs.", "cli."…"""
    texts = catalog()
    return tuple(sorted({key.split(".")[0] + "." for key in {*texts["id"], *texts["en"]}}))


def leading_text(node: ast.AST) -> str | None:
    """The constant a built string starts with: "tgs.status_" of f"tgs.status_{s}", "att." + kind, "x{}".format()."""
    if isinstance(node, ast.JoinedStr):
        first = node.values[0] if node.values else None
        return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
    if isinstance(node, ast.BinOp):
        return leading_text(node.left)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return leading_text(node.func.value)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def built_keys(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, leading text) of every key put together at run time."""
    prefixes = namespaces()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr | ast.BinOp | ast.Call):
            lead = leading_text(node)
            if lead is not None and lead.startswith(prefixes):
                found.append((node.lineno, lead))
    return found


def literal_keys(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, key) of every string literal shaped like a catalog key (not a piece of a built string)."""
    prefixes = namespaces()
    pieces = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    pieces |= {id(node.left) for node in ast.walk(tree) if isinstance(node, ast.BinOp)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in pieces
            and KEY_SHAPE.fullmatch(node.value) and node.value.startswith(prefixes)]


# The console's templates (bot/console/templates) name their texts as t("web.…") literals too.
TEMPLATE_KEY = re.compile(r'\bt\("([a-z]+\.[a-z0-9_]+)"')


@cache
def template_keys() -> dict[str, list[str]]:
    """Catalog keys used by each HTML template, by path relative to the root."""
    return {path.relative_to(ROOT).as_posix(): TEMPLATE_KEY.findall(path.read_text(encoding="utf-8"))
            for path in sorted((ROOT / "bot").rglob("templates/*.html"))}


def test_no_catalog_key_is_built_at_run_time() -> None:
    built = [f"{path}:{line}: {lead}…" for path, tree in code_trees().items()
             for line, lead in built_keys(tree)]

    assert built == []


def test_every_key_in_the_code_has_a_text_in_both_languages() -> None:
    texts = catalog()

    missing = [f"{path}:{line}: {key}" for path, tree in code_trees().items() for line, key in literal_keys(tree)
               if key not in texts["id"] or key not in texts["en"]]
    missing += [f"{path}: {key}" for path, keys in template_keys().items() for key in keys
                if key not in texts["id"] or key not in texts["en"]]
    assert missing == []


def test_every_text_is_used_by_the_code() -> None:
    texts = catalog()
    used = {key for tree in code_trees().values() for _, key in literal_keys(tree)}
    used |= {key for keys in template_keys().values() for key in keys}
    unused = sorted(key for key in {*texts["id"], *texts["en"]} if key not in used)
    assert unused == []
