"""core.searchtext.search_fold: the ASCII shortcut folds exactly as the full Unicode path does."""

import re
import unicodedata

import pytest

from core.searchtext import search_fold


def _reference(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text or "")
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[\W_]+", " ", bare.casefold()).strip()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Plain ASCII",
        "bench12@pull.example.com",
        "O'Brien_Jr.  --  +1 (555) 010",
        "ÀLÉX Zoë",
        "ﬁne Straße",
        "x\u0301y",
    ],
)
def test_fold_matches_the_unicode_path(text):
    assert search_fold(text) == _reference(text)


def test_fold_of_none_is_empty():
    assert search_fold(None) == ""
