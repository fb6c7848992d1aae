"""aiohttp, imported without the two TLS contexts it builds at import loading the system's CA store.

aiohttp's connector module makes a verifying and a non-verifying default context when it is imported, and
both load every CA certificate of the system's store (≈ 1.5 MB resident together). The bot's only aiohttp
client (`bot.whatsapp.http.TwilioHttp`) passes its own context, the one its httpx clients share
(`bot.tls.tls_context`), so those defaults are never used: here they are built without certificates. A
request through aiohttp that did use the default would fail verification (closed, never open).
Import aiohttp from here; when something imported it before, it is left as it is.
"""

from __future__ import annotations

import ssl
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def _contexts_without_certificates() -> Iterator[None]:
    made, verify_paths = ssl.create_default_context, ssl.SSLContext.set_default_verify_paths

    def bare(*_args: Any, **_kwargs: Any) -> ssl.SSLContext:
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies hostnames and certificates, trusts none

    ssl.create_default_context = bare
    ssl.SSLContext.set_default_verify_paths = lambda _self: None  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        ssl.create_default_context = made
        ssl.SSLContext.set_default_verify_paths = verify_paths  # type: ignore[method-assign]


if "aiohttp" in sys.modules:
    import aiohttp
else:
    with _contexts_without_certificates():
        import aiohttp

__all__ = ["aiohttp"]
