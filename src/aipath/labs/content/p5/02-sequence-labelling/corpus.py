"""A small generated corpus of sentences with named entities (read it; do not edit it).

No named-entity corpus ships offline, so this module writes one from templates: people, places,
organisations and dates, many of them several words long, many of them split by MiniLM's
WordPiece tokenizer into several pieces ("Okonkwo" → ok ##on ##k ##wo). The names of the
training and test splits come from disjoint lists, so a model that only memorises the training
names scores poorly on the test split.

A sentence is ``(words, spans)``: ``words`` a list of strings, ``spans`` a list of
``(start, end, type)`` with ``end`` exclusive, word indexes: ``words[start:end]`` is the entity.
"""

from __future__ import annotations

import random

TYPES = ("PER", "LOC", "ORG", "DATE")
LABELS = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-DATE", "I-DATE")
LABEL2ID = {label: i for i, label in enumerate(LABELS)}
IGNORE = -100  # the label PyTorch's cross-entropy skips (ignore_index)

Span = tuple[int, int, str]
Sentence = tuple[list[str], list[Span]]

# fmt: off
_NAMES = {
    "train": {
        "first": [
            "Maria", "Chidinma", "Zbigniew", "Anneliese", "Dmitri", "Priya", "Tomasz", "Aiko",
            "Oluwaseun", "Ingrid", "Rafael", "Siobhan", "Kwame", "Lucia", "Hiroshi", "Fatima",
            "Emeka", "Agnieszka", "Sven", "Mei", "Joaquin", "Aisha", "Pieter", "Svetlana",
            "Kofi", "Greta", "Mateusz", "Yuki", "Amara", "Lars", "Ines", "Tariq",
        ],
        "last": [
            "Okonkwo", "Kowalczyk", "Lindqvist", "Papadopoulos", "Haddad", "Nakamura",
            "Fitzgerald", "Mensah", "Oyelaran", "Brzezinski", "Castellanos", "Thorsen",
            "Novak", "Eriksen", "Mwangi", "Hoffmann", "Yamamoto", "Dlamini", "Moreau", "Kaur",
            "Jankowski", "Van Dijk", "Osei", "Bergstrom",
        ],
        "loc": [
            "Reykjavik", "Ouagadougou", "Ljubljana", "Szczecin", "New York", "Accra", "Gdansk",
            "San Sebastian", "Tbilisi", "Cape Town", "Brno", "Kuala Lumpur", "Lagos", "Bergen",
            "Porto", "Nairobi", "Hong Kong", "Krakow", "Marseille", "Lima", "Osaka", "Tallinn",
            "Buenos Aires", "Dakar",
        ],
        "org": [
            "Novartis", "Vodafone", "Siemens", "Bank of Ghana", "Mitsubishi Electric", "Unilever",
            "Red Cross", "Deutsche Bahn", "Tata Steel", "Oxfam", "Samsung", "Shell", "Nokia",
            "Barclays", "Renault", "General Electric", "Volvo Cars", "Safaricom", "Airbus",
            "Credit Suisse",
        ],
    },
    "test": {
        "first": [
            "Chiamaka", "Bjorn", "Yevgenia", "Oksana", "Tendai", "Mirela", "Kazuki", "Ngozi",
            "Radoslaw", "Ximena", "Farid", "Astrid", "Jomo", "Elif",
        ],
        "last": [
            "Adeyemi", "Wisniewski", "Gunnarsson", "Stavropoulos", "Moyo", "Takahashi",
            "Brennan", "Achterberg", "Petrov", "Nwosu",
        ],
        "loc": [
            "Wroclaw", "Bujumbura", "Trondheim", "Addis Ababa", "Plovdiv", "Los Angeles",
            "Kisumu", "Rotterdam", "Seville", "Hanoi",
        ],
        "org": [
            "Nestle", "Ericsson", "Heineken", "World Bank", "Toyota Motor", "Philips",
            "Air France", "Standard Chartered", "Siemens Energy", "Maersk",
        ],
    },
}

_MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]
# fmt: on
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

# {PER}, {LOC}, {ORG}, {DATE} are entities; every other token is a word tagged O.
_TEMPLATES = [
    "{PER} flew to {LOC} on {DATE} .",
    "{PER} joined {ORG} in {DATE} .",
    "On {DATE} , {ORG} opened an office in {LOC} .",
    "{PER} met {PER} at the {ORG} offices in {LOC} .",
    "The board of {ORG} named {PER} chief executive .",
    "{PER} moved from {LOC} to {LOC} last year .",
    "Shares of {ORG} rose after {PER} spoke on {DATE} .",
    "{ORG} will build a plant near {LOC} .",
    "Police in {LOC} said {PER} was released on {DATE} .",
    "A spokesperson for {ORG} declined to comment .",
    "{PER} was born in {LOC} .",
    "The talks between {ORG} and {ORG} ended on {DATE} .",
    "We drove to {LOC} with {PER} .",
    "It rained all week .",
]


def _entity(kind: str, names: dict[str, list[str]], rng: random.Random) -> list[str]:
    if kind == "PER":
        words = [rng.choice(names["first"])]
        if rng.random() < 0.7:
            words.append(rng.choice(names["last"]))
        return words
    if kind == "LOC":
        return rng.choice(names["loc"]).split()
    if kind == "ORG":
        return rng.choice(names["org"]).split()
    form = rng.randrange(4)
    if form == 0:
        return [str(rng.randint(1, 28)), rng.choice(_MONTHS), str(rng.randint(1990, 2025))]
    if form == 1:
        return [rng.choice(_MONTHS), str(rng.randint(1990, 2025))]
    if form == 2:
        return [str(rng.randint(1, 28)), rng.choice(_MONTHS)]
    return [rng.choice(_DAYS)]


def make_sentence(rng: random.Random, split: str = "train") -> Sentence:
    """One sentence of a random template, its entities drawn from the ``split``'s names."""
    names = _NAMES[split]
    words: list[str] = []
    spans: list[Span] = []
    for token in rng.choice(_TEMPLATES).split():
        if token.startswith("{") and token.endswith("}"):
            kind = token[1:-1]
            entity = _entity(kind, names, rng)
            spans.append((len(words), len(words) + len(entity), kind))
            words.extend(entity)
        else:
            words.append(token)
    return words, spans


def make_corpus(n: int, seed: int = 0, split: str = "train") -> list[Sentence]:
    """``n`` sentences, the same for the same seed; ``split`` is "train" or "test" (disjoint
    names)."""
    if split not in _NAMES:
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    rng = random.Random(f"{split}-{seed}")
    return [make_sentence(rng, split) for _ in range(n)]
