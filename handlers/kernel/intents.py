"""What short replies mean as people really type them: iya kak, sip, makasih, 5 bintang, ga bisa datang.

Participants write informal Indonesian on small phones: stretched letters ("iyaa"), abbreviations
("sdh", "gk", "mksh"), polite fillers ("kak", "pak", "bu", "dong") and emoji. Each function here
answers one question about a whole message and says no when in doubt, so that text which is not
clearly a reply is kept as what it most likely is: a question.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from rapidfuzz import fuzz, process

# Words that carry no meaning of their own in a short reply.
FILLERS = frozenset({
    "kak", "ka", "kk", "kakak", "pak", "bapak", "bu", "ibu", "mas", "mbak", "mba", "bang", "dik", "min",
    "admin", "dong", "deh", "sih", "nih", "ya", "yah", "aja", "saja", "lah", "kok", "nya", "yg", "yang",
    "juga", "jg", "banget", "bgt", "sekali", "sangat", "udah", "sudah", "sdh", "udh", "dah", "nggih", "ok",
    "saya", "sy", "aku", "kami",
})
YES = frozenset({
    "ya", "iya", "iy", "y", "yes", "yup", "ok", "oke", "okay", "okey", "okee", "sip", "siap", "setuju", "stuju",
    "bener", "benar", "betul", "btl", "boleh", "blh", "lanjut", "mau", "bisa", "tentu", "pasti", "yoi", "nggih",
    "inggih", "baik", "gas", "sudah", "sdh", "udah", "udh", "dah",
})
NO = frozenset({
    "tidak", "tdk", "ga", "gak", "gk", "nggak", "ngga", "enggak", "engga", "ndak", "nda", "no", "nope", "belum",
    "blm", "bukan", "bkn", "jangan", "jgn", "tolak", "menolak", "gamau", "tak",
})
THANKS = frozenset({
    "makasih", "makasi", "mksh", "mks", "trims", "trimakasih", "terimakasih", "thanks", "thank", "thx", "tq",
    "ty", "suwun", "matursuwun", "nuhun", "hatur",
})
ACKS = frozenset({
    "ok", "oke", "okay", "okey", "sip", "siap", "noted", "baik", "baiklah", "mantap", "mantul", "jelas",
    "paham", "ngerti", "mengerti", "p", "ping", "halo", "hallo", "hai", "hi", "tes", "test", "done", "good",
    "bagus", "keren", "alhamdulillah", "amin", "aamiin", "wah", "oh", "oo", "ooh", "hehe", "wkwk",
    "terima", "kasih", "banyak", "sama", "sama2", "samasama", "maaf", "permisi", "assalamualaikum",
    "pagi", "siang", "sore", "malam", "selamat", "salam", "waalaikumsalam", "laksanakan", "ilmunya", "ilmu",
    "infonya", "info", "jawabannya", "penjelasannya", "sukses", "semangat", "berkah", "membantu", "sangat",
    # chat shorthand of the words above (too short for the fuzzy match)
    "bnyk", "byk", "bnyak", "bgt", "bngt", "banget", "sngt", "jls", "mantab", "mantep", "sip2", "ok2",
    # "selesai", "udah cukup kak": done, said to no form (a form reads them first)
    "selesai", "cukup", "beres", "clear",
})
ACK_EMOJI = frozenset("👍🙏👌🙂😊😁😀🤝✅❤👏💪🙌😇☺")
STAR = "⭐"
RATING_WORDS = frozenset({"bintang", "nilai", "skor", "rating", "dari", "5"})
LEAVE_WORDS = ("izin", "ijin", "sakit", "berhalangan", "halangan", "absen")
# "izin bertanya" is a polite opening and "izin usaha" a business permit: not a leave request.
NOT_LEAVE = frozenset({
    "tanya", "bertanya", "nanya", "tanyakan", "usaha", "nib", "pirt", "irt", "halal", "edar", "oss", "bpom",
    "sertifikat", "urus", "mengurus", "ngurus", "cara", "gimana", "gmn", "bagaimana", "bgmn", "bikin", "buat",
    "membuat", "daftar", "mendaftar", "syarat", "biaya", "lokasi", "tempat", "produk", "jual", "berjualan",
})
CANT_COME = re.compile(
    r"\b(ga|gak|gk|nggak|ngga|enggak|engga|tidak|tdk|ndak|blm|belum)\s*(bisa|bs|bsa|dapat|dpt)\s*"
    r"(datang|dtg|dateng|hadir|ikut|ikutan|masuk)\b")
LEADING = frozenset({"sy", "saya", "aku", "maaf", "mohon", "kak", "bu", "pak", "mas", "mbak", "minta", "mau"})
_FUZZY_VOCAB = sorted(YES | NO | THANKS | ACKS)


def words(text: str) -> list[str]:
    """Lowercase words with stretched letters squeezed ("iyaaa" → "iya") and punctuation dropped."""
    lowered = unicodedata.normalize("NFKC", text).lower()
    lowered = re.sub(r"(.)\1{2,}", r"\1", lowered)  # three or more of a letter: typed for warmth
    lowered = lowered.replace("terima kasih", "terimakasih").replace("sama-sama", "samasama")
    return re.findall(r"[a-z0-9]+", lowered)


@lru_cache(maxsize=16384)  # chat words repeat: each is matched against the vocabulary once
def _canonical(word: str) -> str:
    if word in _FUZZY_VOCAB or len(word) < 5:
        return re.sub(r"(.)\1+$", r"\1", word)  # "iyaa" → "iya", "okee" → "oke"
    found = process.extractOne(word, _FUZZY_VOCAB, scorer=fuzz.ratio, score_cutoff=84)
    return str(found[0]) if found else word


def _meaningful(text: str) -> list[str]:
    return [_canonical(word) for word in words(text)]


POLITE = frozenset({"dong", "donk", "dulu", "lagi", "tolong", "mohon", "pls", "plis", "please", "bisa"})


def only_fillers(text: str) -> bool:
    """"dong", "kak", "ya kak pls": words that add nothing to a command typed before them."""
    found = words(text)
    return bool(found) and all(word in FILLERS or word in POLITE for word in found) and not re.search(r"\d", text)


def is_yes(text: str) -> bool:
    """"iya", "iyaa kak", "ok sip", "bener", "setuju kak" — agreement and nothing else."""
    found = _meaningful(text)
    return bool(found) and all(w in YES or w in FILLERS for w in found) and any(w in YES for w in found)


def is_no(text: str) -> bool:
    """"tidak", "gak kak", "belum", "bukan" — refusal and nothing else."""
    found = _meaningful(text)
    return bool(found) and all(w in NO or w in FILLERS for w in found) and any(w in NO for w in found)


def is_acknowledgement(text: str) -> bool:
    """Thanks, ok, 👍, "P", "sdh jelas kak makasih": a reaction, not a new question."""
    stripped = text.strip()
    if not stripped:
        return False
    if "?" in stripped:
        return False
    if all(char in ACK_EMOJI or char.isspace() or unicodedata.category(char) in {"Mn", "Sk", "Cf"}
           for char in stripped):
        return True
    found = _meaningful(stripped)
    allowed = YES | THANKS | ACKS | FILLERS
    return bool(found) and len(found) <= 8 and all(w in allowed for w in found)


GREETINGS = frozenset({"halo", "hallo", "hai", "hi", "p", "ping", "permisi", "assalamualaikum", "pagi", "siang",
                       "sore", "malam", "selamat", "salam", "tes", "test"})


def is_greeting(text: str) -> bool:
    """"P", "halo kak", "assalamualaikum", "selamat pagi": someone opening a conversation."""
    found = _meaningful(text)
    return is_acknowledgement(text) and any(w in GREETINGS for w in found)


def is_thanks(text: str) -> bool:
    """An acknowledgement that says thank you."""
    return is_acknowledgement(text) and any(w in THANKS or w == "terimakasih" for w in _meaningful(text))


def rating_in(text: str) -> int | None:
    """A 1–5 rating typed as "5", "5 bintang kak mantap", "bintang 4", "4/5" or "⭐⭐⭐⭐"."""
    stars = text.count(STAR) + text.count("★")
    if 1 <= stars <= 5 and not re.search(r"\d", text):
        return stars
    lowered = text.lower()
    match = (re.match(r"\s*([1-5])(?![\d.,/])\b", lowered)
             or re.search(r"\b([1-5])\s*(?:/\s*5|dari\s*5|bintang|⭐)", lowered)
             or re.search(r"\b(?:bintang|nilai|skor|rating)\s*:?\s*([1-5])\b", lowered))
    if match is None:
        return None
    rest = [w for w in _meaningful(lowered.replace(match.group(0), " "))
            if w not in RATING_WORDS and w not in FILLERS]
    if all(w in YES | THANKS | ACKS for w in rest):
        return int(match.group(1))
    return None


RATING_MARK = re.compile(r"[⭐★]|\b(?:bintang|rating|nilai|skor)\b|\d\s*(?:/\s*5|dari\s*5)")


def explicit_rating(text: str) -> int | None:
    """A rating said as one ("⭐⭐⭐⭐⭐", "bintang 5 kak", "4/5 mantap"), not a bare "5" that may answer a question."""
    return rating_in(text) if RATING_MARK.search(text.lower()) else None


def is_leave_request(text: str) -> bool:
    """"izin kak", "ijin besok", "sakit", "bsk sy ga bs dtg", "berhalangan hadir" — asking to be excused."""
    lowered = " ".join(words(text))
    if CANT_COME.search(lowered):
        return True
    found = lowered.split()
    while found and found[0] in LEADING:  # "sy sakit kak", "maaf izin", "mohon ijin"
        found = found[1:]
    if not found or found[0] not in LEAVE_WORDS or "?" in text or len(found) > 12:
        return False
    return not any(word in NOT_LEAVE for word in found)


def leave_kind(text: str) -> str:
    """"sakit" when the person says they are ill, else "izin"."""
    return "sakit" if "sakit" in words(text) else "izin"


# Withdrawing consent and asking for erasure: the key words, and what may stand around them.
WITHDRAW_VERBS = frozenset({"cabut", "mencabut", "cabutkan", "tarik", "menarik", "batalkan", "membatalkan", "batal"})
CONSENT_NOUNS = ("persetujuan", "setuju", "consent")
STOP_WORDS = frozenset({"berhenti", "brenti", "berenti", "unsubscribe", "unreg"})
ERASE_VERBS = frozenset({"hapus", "hapuskan", "menghapus", "dihapus", "delete", "erase"})
PRIVACY_EXTRAS = frozenset({
    "mau", "ingin", "pengen", "pingin", "minta", "tolong", "mohon", "tlg", "dari", "program", "ikut", "ini", "itu",
    "klinik", "bisnis", "layanan", "langganan", "sekarang", "data", "semua", "pribadi", "ku", "my", "please",
    "lagi", "pesan", "kirim", "dikirimi", "chat", "bot", "saja", "aja", "persetujuan", "setuju", "the", "i", "want",
    "to", "stop", "me", "all", "tidak", "tdk", "ga", "gak", "gk", "nggak", "ngga", "enggak",
})
MESSAGES = frozenset({"pesan", "kirim", "chat", "dikirimi"})


def _is_consent_noun(word: str) -> bool:
    return word in CONSENT_NOUNS or fuzz.ratio(word, "persetujuan") >= 80


def privacy_request(text: str) -> str | None:
    """"cabut persetujuan", "saya mau berhenti kak", "hapus data saya": "withdraw", "erase", or None.

    Only a short message made of these words (and fillers) counts: "usaha saya berhenti produksi" is a question.
    """
    if "?" in text:
        return None
    found = [word for word in words(text) if word not in FILLERS]
    if not found or len(found) > 8 or any(word not in PRIVACY_EXTRAS and word not in WITHDRAW_VERBS | STOP_WORDS
                                          | ERASE_VERBS and not _is_consent_noun(word) for word in found):
        return None
    if any(word in ERASE_VERBS for word in found) and "data" in found:
        return "erase"
    if any(word in WITHDRAW_VERBS for word in found) and any(_is_consent_noun(word) for word in found):
        return "withdraw"
    if any(word in STOP_WORDS for word in found) or ("stop" in found and MESSAGES & set(found)):
        return "withdraw"
    if any(word in NO for word in found) and "setuju" in found and "lagi" in found:  # "saya tidak setuju lagi"
        return "withdraw"
    return None


QUESTION_WORDS = frozenset({
    "gmn", "gimana", "bagaimana", "bgmn", "gmna", "apa", "apakah", "apkh", "kenapa", "knp", "mengapa", "kapan",
    "dimana", "dmn", "mana", "berapa", "brp", "siapa", "bisakah", "bolehkah", "tanya", "nanya", "bertanya",
})


def is_question(text: str) -> bool:
    """"kak formatnya gmn?", "apakah boleh pdf": text that asks something rather than tells."""
    found = words(text)
    if "?" in text:
        return True
    leading = [w for w in found if w not in FILLERS and w not in LEADING]
    return bool(leading) and (leading[0] in QUESTION_WORDS or any(w in {"tanya", "nanya", "bertanya"} for w in found))
