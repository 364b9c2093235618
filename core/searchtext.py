"""The normalized text that unified search indexes: folded once in Python, on write.

Both databases index the same words: accents removed (NFKD, combining marks dropped), case
folded, every run of characters that is not a letter or digit turned into one space. So
PostgreSQL's parser (to_tsvector 'simple') and SQLite's FTS5 tokenizer (unicode61) split
"José O'Brien <jose.obrien@mail.example>" into the same words, and a query folded by the
same function matches the same rows on both; no database extension is needed for accents.
The name goes first, so "the name starts with the query" is a prefix test of this text.
"""

import re
import unicodedata

MAX_CHARS = 1000
_NOT_WORD = re.compile(r"[\W_]+")


def search_fold(text: str) -> str:
    """`text` as lower-case, accent-free words separated by single spaces."""
    text = text or ""
    if text.isascii():
        bare = text  # NFKD leaves ASCII as it is and it holds no combining mark
    else:
        decomposed = unicodedata.normalize("NFKD", text)
        bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_WORD.sub(" ", bare.casefold()).strip()


def search_text_of(*parts) -> str:
    """The indexed text of a record: its parts (name first) folded and joined, size-capped."""
    folded = " ".join(f for f in (search_fold(str(p)) for p in parts if p not in (None, "")) if f)
    return folded[:MAX_CHARS].rsplit(" ", 1)[0] if len(folded) > MAX_CHARS else folded


def search_terms(query: str) -> list[str]:
    """The query's words, folded as the indexed text is (each matches a word's start)."""
    return search_fold(query).split()
