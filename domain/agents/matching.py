"""Lexical matching of a user's message to an agent's intentions (no model, no I/O).

Used by the `local` LLM backend to pick a configured reply, and by chat to name the intention a
lead showed interest in. The similarity, per phrase (the intention's name and each example):

- both texts are normalized into tokens: case-folded, split on anything that is not a letter or
  digit, lightly stemmed (plural "s"/"es"/"ies", "ing", "ed", a final silent "e", a doubled final
  consonant) so "prices", "priced" and "pricing" meet; common English function words are
  dropped unless nothing else is left;
- token score = mean of containment (share of the phrase's tokens found in the message — a long
  message that contains the phrase still matches) and Jaccard (penalizes unrelated extra words);
- trigram score = the same blend over the character trigrams of the tokens (padded with a space
  on each side), which survives typos ("openning hurs" still meets "opening hours");
- score = 0.6 * token score + 0.4 * trigram score, in 0..1.

An intention scores the best of its phrases; the best intention at or above `MATCH_THRESHOLD`
wins, ties going to the higher priority, then to the earlier intention in the given order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from domain.agents.models import Intention

MATCH_THRESHOLD = 0.35
TOKEN_WEIGHT = 0.6
TRIGRAM_WEIGHT = 0.4
# Intention names and examples seen recently, with their features: every chat turn matches its
# message against the same few agents' phrases, so they are normalized once, not per turn.
PHRASE_CACHE_SIZE = 4096

_WORDS = re.compile(r"[^\W_]+")
_VOWELS = frozenset("aeiouy")
# Doubled finals that are part of the word itself, not an artefact of "-ing"/"-ed" ("call").
_KEPT_DOUBLES = frozenset({"ll", "ss", "zz", "ff"})

# Compared before stemming. Contraction leftovers ("m", "s", "ll", ...) are here because the
# tokenizer splits "I'm" into "i" and "m".
_STOPWORD_TEXT = """
    a an the i me my mine we us our you your yours he she it its they them their
    m s t d ll re ve
    is are was were be been being am do does did doing done have has had having
    to of in on at by for with from about into over as and or but if so than then
    this that these those there here what which who whom whose when where why how
    can could would should will shall may might must just also very too
    please want wanted like get got need some any all
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())

_GREETINGS = frozenset(
    {"hi", "hello", "hey", "heya", "hiya", "howdy", "greetings", "yo", "hallo", "hola",
     "bonjour", "ciao", "salut", "hej", "morning", "afternoon", "evening"}
)  # fmt: skip
# Words that may accompany a greeting without making it a question ("hi there", "good morning").
_GREETING_COMPANIONS = frozenset({"there", "all", "everyone", "team", "good", "guys", "folks"})


@dataclass(frozen=True, slots=True)
class IntentionMatch:
    intention: Intention
    score: float  # 0..1


def _stem(token: str) -> str:
    if len(token) <= 3:
        return token
    if token.endswith("ies") and len(token) > 4:
        token = token[:-3] + "y"
    elif token.endswith("es") and token[-3:-2] in {"s", "x", "z", "h"}:
        token = token[:-2]
    elif token.endswith("s") and not token.endswith(("ss", "us", "is")):
        token = token[:-1]
    for suffix in ("ing", "ed"):
        stem = token[: -len(suffix)]
        # Only strip when a vowel stays in the stem ("sing", "red" keep their endings).
        if token.endswith(suffix) and len(stem) >= 3 and _VOWELS & set(stem):
            token = stem
            if token[-1] == token[-2] and token[-2:] not in _KEPT_DOUBLES:
                token = token[:-1]
            break
    if token.endswith("e") and len(token) > 3:
        token = token[:-1]
    return token


def tokens(text: str) -> list[str]:
    """Normalized, stemmed tokens of `text`, without function words unless only those remain."""
    words = _WORDS.findall(text.casefold())
    content = [word for word in words if word not in _STOPWORDS] or words
    return [_stem(word) for word in content]


def _trigrams(words: Iterable[str]) -> set[str]:
    grams: set[str] = set()
    for word in words:
        padded = f" {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return grams


def _overlap(message: frozenset[str], phrase: frozenset[str]) -> float:
    if not message or not phrase:
        return 0.0
    shared = len(message & phrase)
    containment = shared / len(phrase)
    jaccard = shared / len(message | phrase)
    return (containment + jaccard) / 2


@dataclass(frozen=True, slots=True)
class _Features:
    tokens: frozenset[str]
    trigrams: frozenset[str]


def _features(text: str) -> _Features:
    words = frozenset(tokens(text))
    return _Features(tokens=words, trigrams=frozenset(_trigrams(words)))


# Only phrases go through the cache: they repeat across turns and are bounded by the agents'
# configuration, whereas messages are unique and may be long.
_phrase_features = lru_cache(maxsize=PHRASE_CACHE_SIZE)(_features)


def _score(message: _Features, phrase: _Features) -> float:
    token_score = _overlap(message.tokens, phrase.tokens)
    trigram_score = _overlap(message.trigrams, phrase.trigrams)
    return TOKEN_WEIGHT * token_score + TRIGRAM_WEIGHT * trigram_score


def similarity(message: str, phrase: str) -> float:
    """How well `message` matches one intention phrase, 0..1 (see the module docstring)."""
    return _score(_features(message), _phrase_features(phrase))


def match_intention(message: str, intentions: Sequence[Intention]) -> IntentionMatch | None:
    """The enabled intention `message` matches best, or None below `MATCH_THRESHOLD`."""
    features = _features(message)  # once per call, not once per phrase
    best: IntentionMatch | None = None
    best_key: tuple[float, int] | None = None
    for intention in intentions:
        if not intention.enabled:
            continue
        score = _score(features, _phrase_features(intention.name))
        for example in intention.examples:
            score = max(score, _score(features, _phrase_features(example)))
        # Rounded so float noise cannot beat the priority/order tie-break.
        key = (round(score, 6), intention.priority)
        if score >= MATCH_THRESHOLD and (best_key is None or key > best_key):
            best, best_key = IntentionMatch(intention=intention, score=min(score, 1.0)), key
    return best


def is_greeting(message: str) -> bool:
    """True for a bare greeting ("hi", "Hello there!", "good morning") and nothing more."""
    words = _WORDS.findall(message.casefold())
    if not words or not any(word in _GREETINGS for word in words):
        return False
    return all(word in _GREETINGS or word in _GREETING_COMPANIONS for word in words)
