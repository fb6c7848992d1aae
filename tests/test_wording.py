"""Guards on the catalogs' wording: channel-neutral instructions, dates and times one way, one phone screen."""

import re

import pytest

from handlers.kernel.i18n import catalog

# Words that only make sense where there are buttons; WhatsApp shows numbered options instead.
BUTTON_WORDS = re.compile(r"\b(tekan|ditekan|tombol|klik|ketuk|press|tap|click|buttons?)\b", re.IGNORECASE)
PLACEHOLDER = re.compile(r"\{[^}]*\}")
# Texts that may name buttons, each because it is never shown on WhatsApp.
BUTTON_TEXTS_ALLOWED = {
    "core.share_contact",  # Telegram only: asks for the share-contact keyboard button
    "core.share_own_contact",  # Telegram only: the same keyboard, after someone shared another's contact
    "cli.chat_help",  # the terminal chat's own help; `/tekan N` is its command for choosing option N
}


@pytest.mark.parametrize("language", ["id", "en"])
def test_instructions_refer_to_options_not_buttons(language: str) -> None:
    texts = catalog()[language]

    found = {key: match[0] for key, text in texts.items() if key not in BUTTON_TEXTS_ALLOWED
             for match in [BUTTON_WORDS.search(PLACEHOLDER.sub("", text))] if match}
    assert found == {}


@pytest.mark.parametrize("language", ["id", "en"])
def test_times_are_written_with_a_dot_and_weeks_as_dates(language: str) -> None:
    texts = catalog()[language]

    colon_times = [key for key, text in texts.items() if re.search(r"\b\d{1,2}:\d{2}\b", text)
                   and not key.startswith("cli.")]  # the CLI reads "2026-03-12 17:00" as typed input
    iso_weeks = [key for key, text in texts.items() if re.search(r"\d{4}-W\d{2}", text) and not key.startswith("cli.")
                 and key != "part.week_usage"]  # how to type a week stays an example of input
    assert (colon_times, iso_weeks) == ([], [])


def test_every_text_fits_a_phone_screen() -> None:
    texts = catalog()["id"]

    long = [key for key, text in texts.items() if not key.startswith("cli.")
            and (len(PLACEHOLDER.sub("", text)) > 400 or text.count("\n") > 14)]
    assert long == []
