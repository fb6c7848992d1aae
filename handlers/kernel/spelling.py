"""Informal Indonesian as participants type it, reduced to comparable word stems."""

from __future__ import annotations

import re

# Chat spellings and abbreviations mapped to the standard word (applied before and after stemming).
SLANG = {
    "gmn": "bagaimana", "gimana": "bagaimana", "bgmn": "bagaimana", "gmana": "bagaimana",
    "pinjem": "pinjam", "minjem": "pinjam", "minjam": "pinjam", "ngutang": "utang", "hutang": "utang",
    "ngurus": "urus", "ngurusin": "urus", "daptar": "daftar", "ndaftar": "daftar", "bikin": "buat",
    "gak": "tidak", "ga": "tidak", "nggak": "tidak", "enggak": "tidak", "tdk": "tidak", "gk": "tidak",
    "udah": "sudah", "udh": "sudah", "sdh": "sudah", "blm": "belum", "sy": "saya", "aku": "saya",
    "gue": "saya", "yg": "yang", "dgn": "dengan", "utk": "untuk", "bs": "bisa", "bsa": "bisa",
    "jd": "jadi", "krn": "karena", "tp": "tapi", "dr": "dari", "dlm": "dalam", "dpt": "dapat",
    "kalo": "kalau", "klo": "kalau", "kl": "kalau", "duit": "uang", "nyari": "cari",
    "jualan": "jual", "dagang": "jual", "dagangan": "jual", "onlen": "online", "onlin": "online",
    "olshop": "online", "medsos": "sosmed", "ig": "instagram", "fb": "facebook", "wa": "whatsapp",
    "sertifkat": "sertifikat", "sertipikat": "sertifikat", "serifikat": "sertifikat",
    "tokped": "tokopedia", "shopie": "shopee", "sopi": "shopee", "pembukuannya": "pembukuan",
    "ajuin": "aju", "ngajuin": "aju", "ngajukan": "aju", "mengajukan": "aju", "pengajuan": "aju",
}

STOPWORDS = frozenset(
    ["saya", "mau", "ingin", "tanya", "bertanya", "bagaimana", "cara", "apa", "apakah", "yang", "di", "ke", "dari", "dan", "atau", "untuk", "dengan", "bisa", "dapat", "ini", "itu", "ya", "kak", "pak", "bu", "bapak", "ibu", "mas", "mbak", "min", "admin", "tolong", "mohon", "halo", "hai", "selamat", "pagi", "siang", "sore", "malam", "terima", "kasih", "sudah", "belum", "ada", "tidak", "kalau", "jika", "agar", "supaya", "dong", "nih", "sih", "deh", "kok", "juga", "lagi", "saja", "aja", "kah", "nya", "usaha", "kami", "kita", "sama", "buat", "gitu", "begitu", "gini", "begini"])

_NON_WORD = re.compile(r"[^0-9a-z]+")
_INNER_HYPHEN = re.compile(r"(?<=[a-z])-(?=[a-z])")
_REDUPLICATION = re.compile(r"\b([a-z]+)(?:2|-\1)\b")


def words(text: str) -> list[str]:
    """Lower-case words with hyphens inside words joined (P-IRT → pirt) and "usaha2" → "usaha"."""
    lowered = _REDUPLICATION.sub(r"\1", text.lower())
    lowered = _INNER_HYPHEN.sub("", lowered)
    return [word for word in _NON_WORD.split(lowered) if word]


def stem(word: str) -> str:
    """A light stem: slang mapped, informal ng-/nge-, formal meN-/ber- and -kan/-in/-nya stripped."""
    word = SLANG.get(word, word)
    for suffix in ("nya", "kan", "lah", "kah", "in"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    word = _strip_prefix(word)
    return SLANG.get(word, word)


def _strip_prefix(word: str) -> str:
    if len(word) < 6:
        return word
    if word.startswith("nge"):
        return word[3:]
    if word.startswith("ng") and word[2] in "aiueo":
        return word[2:]
    if word.startswith("meny"):
        return "s" + word[4:]
    if word.startswith("meng"):
        return word[4:]
    if word.startswith("mem"):
        return ("p" + word[3:]) if word[3] in "aiueo" else word[3:]
    if word.startswith("men"):
        return ("t" + word[3:]) if word[3] in "aiueo" else word[3:]
    if word.startswith("ber") and len(word) >= 7:
        return word[3:]
    return word


def content_stems(text: str) -> list[str]:
    """The stems that carry meaning, in order, without filler words."""
    stems = (stem(word) for word in words(text))
    return [item for item in stems if item not in STOPWORDS]


def normalize(text: str) -> str:
    """Text reduced to its content stems, space-separated (the form fuzzy matching compares)."""
    return " ".join(content_stems(text))
