"""Message catalogs: Indonesian by default, English second, one TOML file per feature."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

HANDLERS = Path(__file__).parent.parent  # each package keeps its texts in <package>/locales/*.toml
DEFAULT_LANGUAGE = "id"


@cache
def catalog() -> dict[str, dict[str, str]]:
    """Every text by language and key, merged from every handlers/<package>/locales/*.toml."""
    merged: dict[str, dict[str, str]] = {}
    for path in sorted(HANDLERS.glob("*/locales/*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for language, texts in data.items():
            bucket = merged.setdefault(language, {})
            duplicated = bucket.keys() & texts.keys()
            if duplicated:
                raise ValueError(f"{path.name} redefines {sorted(duplicated)}")
            bucket.update(texts)
    return merged


def t(key: str, language: str = DEFAULT_LANGUAGE, /, **values: Any) -> str:
    """The text for key in the language (falling back to Indonesian), filled with values."""
    texts = catalog()
    template = texts.get(language, {}).get(key) or texts[DEFAULT_LANGUAGE].get(key)
    if template is None:
        raise KeyError(f"no text for {key!r}")
    return template.format(**values) if values else template
