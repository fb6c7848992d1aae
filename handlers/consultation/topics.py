"""Consultation topics: the programme's list, and a guess of a question's topic from its words."""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from rapidfuzz import fuzz, process

from handlers.kernel.spelling import content_stems, normalize

DEFAULT_TOPICS_FILE = Path(__file__).parent / "defaults" / "topics.toml"
STRONG_WEIGHT = 2


@dataclass(frozen=True)
class Topic:
    """A topic key with its labels per language and the words that hint at it."""

    key: str
    labels: tuple[tuple[str, str], ...]
    keywords: tuple[str, ...] = ()
    strong: tuple[str, ...] = ()

    def __hash__(self) -> int:  # by key alone (equal topics have equal keys): matching caches per topic
        return hash(self.key)

    def label(self, language: str) -> str:
        """The label in the language, else Indonesian, else the key."""
        names = dict(self.labels)
        return names.get(language) or names.get("id") or self.key


def load_topics(path: Path) -> tuple[Topic, ...]:
    """Read a topics file (see handlers/consultation/defaults/topics.toml for the format)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return tuple(Topic(key=item["key"], labels=tuple(sorted(item.get("labels", {}).items())),
                       keywords=tuple(item.get("keywords", ())), strong=tuple(item.get("strong", ())))
                 for item in data["topic"])


@cache
def default_topics() -> tuple[Topic, ...]:
    """The shipped default topics."""
    return load_topics(DEFAULT_TOPICS_FILE)


def fallback_topic(topics: tuple[Topic, ...]) -> Topic:
    """The topic used when nothing matches: the first one without keywords, else the last."""
    return next((topic for topic in topics if not topic.keywords and not topic.strong), topics[-1])


def find_topic(topics: tuple[Topic, ...], key: str) -> Topic | None:
    """The topic with this key, if the programme has it."""
    return next((topic for topic in topics if topic.key == key), None)


@cache
def _vocabulary(topic: Topic) -> dict[str, int]:
    weights = {normalize(word): 1 for word in topic.keywords}
    weights |= {normalize(word): STRONG_WEIGHT for word in topic.strong}
    return {word: weight for word, weight in weights.items() if word}


def _phrases(text: str) -> list[str]:
    stems = content_stems(text)
    return stems + [f"{first} {second}" for first, second in itertools.pairwise(stems)]


@lru_cache(maxsize=32768)  # chat words repeat: each is matched against a topic's words once
def _topic_hit(phrase: str, topic: Topic, threshold: int) -> str | None:
    return _hit(phrase, _vocabulary(topic), threshold)


def _hit(phrase: str, vocabulary: dict[str, int], threshold: int) -> str | None:
    if phrase in vocabulary:
        return phrase
    if len(phrase) <= 3:
        return None  # "kur", "nib", "hpp": too short for fuzzy matching to mean anything
    found = process.extractOne(phrase, vocabulary.keys(), scorer=fuzz.ratio, score_cutoff=threshold)
    if found is None or len(found[0]) <= 3 or _is_other_word(phrase, str(found[0])):
        return None
    return str(found[0])


def _is_other_word(phrase: str, keyword: str) -> bool:
    # "produk" is not "produksi": a clean prefix is another word, not a typo
    shorter, longer = sorted((phrase, keyword), key=len)
    return longer.startswith(shorter) and len(longer) - len(shorter) > 1


def topic_scores(text: str, topics: tuple[Topic, ...], threshold: int) -> dict[str, int]:
    """Each topic's weight of distinct keywords found in the text (fuzzy, informal spelling)."""
    phrases = _phrases(text)
    scores: dict[str, int] = {}
    for topic in topics:
        vocabulary = _vocabulary(topic)
        hits = {hit for phrase in phrases if (hit := _topic_hit(phrase, topic, threshold))}
        scores[topic.key] = sum(vocabulary[hit] for hit in hits)
    return scores


def guess_topic(text: str, topics: tuple[Topic, ...], threshold: int = 82) -> Topic:
    """The most likely topic of a question; ties go to the topic listed first."""
    scores = topic_scores(text, topics, threshold)
    best = max(topics, key=lambda topic: scores[topic.key])
    return best if scores[best.key] > 0 else fallback_topic(topics)


def match_topic_name(text: str, topics: tuple[Topic, ...], language: str) -> Topic | None:
    """The topic a participant typed by name ("pemasaran", "keuangan"), if it is close enough."""
    typed = text.strip().lower()
    if not typed:
        return None
    names = {topic.key: topic.key for topic in topics}
    names |= {topic.label(language).lower(): topic.key for topic in topics}
    found = process.extractOne(typed, names.keys(), scorer=fuzz.WRatio, score_cutoff=88)
    return find_topic(topics, names[found[0]]) if found else None
