"""Vietnamese text as people type it: NFC for storage, an accent-free key for matching."""

import re
import unicodedata

_WORD_SEPARATORS = re.compile(r"[\W_]+")
_SPACES = re.compile(r"\s+")


def clean_text(value) -> str:
    """NFC-normalise and collapse whitespace. Phones and old Excel files often send NFD
    (letters followed by combining marks); stored text is always NFC."""
    if value is None:
        return ""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", str(value))).strip()


def match_key(value) -> str:
    """Lower-case, accent-free, punctuation-free form used to recognise the same name typed
    differently ("HTX Chè Khe Năm", "htx che khe nam", NFD input). Đ has no decomposition,
    so it is folded explicitly."""
    text = unicodedata.normalize("NFD", value or "")
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    text = text.replace("đ", "d").replace("Đ", "d").casefold()
    return _WORD_SEPARATORS.sub(" ", text).strip()
