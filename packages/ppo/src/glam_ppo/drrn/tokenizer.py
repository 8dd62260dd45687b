"""Word-level tokenizer with a vocabulary that grows as words are seen, up to a cap.

Why a growing vocabulary rather than hashing words into buckets: the games this
DRRN plays have small vocabularies (BabyAI-Text about 60 words, TextWorld games
a few thousand), so a capped table has room for every word, no two words ever
share an embedding (hashing collides, and collisions between the few words that
matter, colours and objects, would hurt most), and the vocabulary is a readable
word list that a checkpoint stores as JSON. Determinism: ids are given in the
order words are first *added*, and the trainer adds the texts of each step in
environment order, so the vocabulary is a function of the run's seed. Words met
once the cap is reached, and words never added (texts only encoded, e.g. during
an evaluation), map to ``<unk>``: encoding alone never changes the vocabulary,
so evaluating in the middle of training cannot change what training learns.

Texts are lower-cased and split on anything that is not a letter or a digit
(Unicode-aware: French accents stay inside words). A state made of several
fields is one string whose fields are joined by :data:`FIELD_SEPARATOR` (an
ASCII control character no game text contains); it becomes the ``<sep>`` token.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

#: Joins the fields of a state text; encoded as the ``<sep>`` token.
FIELD_SEPARATOR = "\x1f"

PAD, UNK, SEP = 0, 1, 2
SPECIAL_TOKENS = ("<pad>", "<unk>", "<sep>")

_TOKEN = re.compile(r"[^\W_]+|" + FIELD_SEPARATOR)

#: Cached encodings are dropped all at once past this many texts (bounds memory).
_CACHE_LIMIT = 200_000


def split_words(text: str) -> list[str]:
    """Lower-cased words of ``text``, and the field separator where it occurs."""
    return _TOKEN.findall(text.lower())


class WordTokenizer:
    """Words to ids: ``0`` pad, ``1`` unknown, ``2`` field separator, then words.

    Args:
        max_words: the cap on learned words; the embedding table needs
            :attr:`table_size` rows whatever the number of words seen so far.
    """

    def __init__(self, max_words: int) -> None:
        if max_words < 1:
            raise ValueError(f"max_words must be positive, got {max_words}")
        self.max_words = max_words
        self.words: list[str] = []
        self._ids: dict[str, int] = {}
        # text -> ids, only for encodings without <unk> (those cannot change later).
        self._cache: dict[str, tuple[int, ...]] = {}

    @property
    def table_size(self) -> int:
        """Rows an embedding table needs: the special tokens plus ``max_words``."""
        return len(SPECIAL_TOKENS) + self.max_words

    def __len__(self) -> int:
        """Ids in use: the special tokens plus the words learned so far."""
        return len(SPECIAL_TOKENS) + len(self.words)

    def add(self, texts: Iterable[str]) -> None:
        """Learn the new words of ``texts`` in order of appearance (until the cap)."""
        for text in texts:
            if text in self._cache:
                continue
            for word in split_words(text):
                if word == FIELD_SEPARATOR or word in self._ids:
                    continue
                if len(self.words) >= self.max_words:
                    break
                self._ids[word] = len(SPECIAL_TOKENS) + len(self.words)
                self.words.append(word)

    def encode(self, text: str) -> tuple[int, ...]:
        """Ids of ``text``'s words (unknown words are ``UNK``); never grows the vocabulary."""
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        ids = tuple(
            SEP if word == FIELD_SEPARATOR else self._ids.get(word, UNK)
            for word in split_words(text)
        )
        if UNK not in ids:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[text] = ids
        return ids

    def state_dict(self) -> dict[str, Any]:
        """JSON-ready: the cap and the words in id order."""
        return {"max_words": self.max_words, "words": list(self.words)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the words (the cap must match: the embedding table depends on it)."""
        if int(state["max_words"]) != self.max_words:
            raise ValueError(
                f"vocabulary cap {state['max_words']} does not match this tokenizer's "
                f"{self.max_words}"
            )
        self.words = [str(word) for word in state["words"]]
        self._ids = {word: len(SPECIAL_TOKENS) + i for i, word in enumerate(self.words)}
        self._cache.clear()
