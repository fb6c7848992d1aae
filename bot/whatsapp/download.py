"""Media that Twilio hosts, downloaded with httpx: no Twilio SDK (it loads only with WhatsApp configured)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import httpx

from bot.tls import tls_context


def is_twilio_host(host: str) -> bool:
    """True for twilio.com and any of its subdomains."""
    host = host.lower().rstrip(".")
    return host == "twilio.com" or host.endswith(".twilio.com")


def aimed_at(url: str, base_url: str | None) -> str:
    """``url`` sent to ``base_url`` (a mock of Twilio's API) when it is on a Twilio domain and a base is set: its
    path (after the base's own) and query kept; any other URL as it is."""
    parts = urlsplit(url)
    if not base_url or not is_twilio_host(parts.hostname or ""):
        return url
    base = urlsplit(base_url)
    return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + parts.path, parts.query, parts.fragment))


async def download_media(url: str, *, auth: tuple[str, str] | None, api_base_url: str | None,
                         max_bytes: int) -> bytes:
    """A media file Twilio hosts (or any URL), with the account's credentials sent to Twilio only."""
    on_twilio = is_twilio_host(urlsplit(url).hostname or "")
    target = aimed_at(url, api_base_url)
    basic = httpx.BasicAuth(*auth) if auth and on_twilio else None
    async with httpx.AsyncClient(follow_redirects=True, timeout=30, verify=tls_context()) as client:
        response = await client.get(target, auth=basic)
        response.raise_for_status()
        if len(response.content) > max_bytes:
            raise ValueError(f"media larger than {max_bytes // (1024 * 1024)} MB")
        return response.content
