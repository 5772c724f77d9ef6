"""The curated knowledge base: schema, official titles, coverage, and how answers are chosen."""

import csv
import re
from pathlib import Path

import pytest

from bot import knowledge
from bot.dictionary import ImportedEntry
from bot.errors import KnowledgeError

ROOT = Path(__file__).parent.parent
_TSV = (Path(__file__).parent / "data" / "official-titles.tsv").read_text(encoding="utf-8")
OFFICIAL = {
    int(row["code"]): row["title"] for row in csv.DictReader(_TSV.splitlines(), delimiter="\t")
}
CURATED = knowledge.load_curated(ROOT / "knowledge")


def test_every_file_validates_and_is_named_by_its_code():
    files = sorted(p.stem for p in (ROOT / "knowledge").glob("*"))
    assert files == sorted(str(code) for code in CURATED)


def test_every_official_code_has_an_entry():
    assert set(OFFICIAL) - set(CURATED) == set()


@pytest.mark.parametrize("code", sorted(CURATED))
def test_title_is_twilios_exactly(code):
    assert CURATED[code].title == OFFICIAL[code]


@pytest.mark.parametrize("code", sorted(CURATED))
def test_related_codes_look_like_twilio_codes(code):
    # Codes outside the curated set are allowed: `why` answers them from the imported
    # dictionary, or with Twilio's link.
    assert all(10000 <= c <= 99999 for c in CURATED[code].related)


def test_30003_is_a_carrier_reported_unreachable_handset():
    entry = CURATED[30003]
    assert entry.appears_as == ("undelivered",)
    assert "carrier" in entry.meaning and "receipt" in entry.meaning
    assert entry.retry == "later"


def test_no_text_calls_30003_an_api_level_block():
    wrong = re.compile(r"api[- ]level (block|reject|error)", re.IGNORECASE)
    for path in [*ROOT.glob("knowledge/*.toml"), *ROOT.glob("bot/*.py"), ROOT / "README.md"]:
        text = path.read_text(encoding="utf-8")
        for match in wrong.finditer(text):
            window = text[max(0, match.start() - 300) : match.end() + 300]
            assert "30003" not in window, f"{path.name} near {match.group(0)!r}"


def test_billing_is_left_to_the_derived_answer():
    # `knowledge.billing` says whether a code is billed; prose that says so too can
    # contradict it (the failed-message fee changed in 2024).
    said = re.compile(r"\b(billed|no charge|not charged)\b", re.IGNORECASE)
    for entry in CURATED.values():
        for text in [entry.meaning, *entry.causes, *entry.fixes, *entry.prevention]:
            assert not said.search(text), (entry.code, text)


def test_the_richest_entries_carry_the_seed_facts():
    e3 = CURATED[30003]
    text3 = " ".join([e3.meaning, *e3.causes, *e3.fixes, *e3.prevention, e3.escalation])
    for fact in (
        "30 minutes",
        "3 attempts",
        "5%",
        "10%",
        "ValidityPeriod",
        "7 days",
        "Lookup",
        "carrier",
    ):
        assert fact in text3, fact
    e2 = CURATED[30002]
    text2 = " ".join([e2.meaning, *e2.causes, *e2.fixes, *e2.prevention, e2.escalation])
    for fact in (
        "Acceptable Use Policy",
        "SHAFT",
        "payment",
        "fraud",
        "Trust and Safety",
        "second Twilio account",
        "low-balance",
    ):
        assert fact in text2, fact
    assert e2.retry == "no"


GOOD = {
    "code": 30099,
    "title": "A title",
    "appears_as": ["failed"],
    "meaning": "It means something.",
    "causes": ["a cause"],
    "fixes": ["a fix"],
    "retry": "no",
    "related": [],
}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"title": None}, "missing title"),
        ({"colour": "blue"}, "unknown keys colour"),
        ({"code": "30099"}, "code must be an integer"),
        ({"code": True}, "code must be an integer"),
        ({"appears_as": ["bounced"]}, "appears_as has ['bounced']"),
        ({"appears_as": []}, "appears_as must be a non-empty list"),
        ({"causes": []}, "causes must be a non-empty list"),
        ({"fixes": ["ok", ""]}, "fixes[1] must be non-empty text"),
        ({"retry": "maybe"}, "retry must be one of"),
        ({"retry": "none"}, 'retry "none" is only for codes that appear as warnings alone'),
        ({"related": ["30003"]}, "related must be a list of integer codes"),
        ({"related": [30099]}, "related lists the entry's own code"),
        ({"meaning": "Ping <!channel> now"}, "meaning contains < or >"),
        ({"prevention": "not a list"}, "prevention must be a non-empty list"),
    ],
)
def test_schema_rejects(change, problem):
    data = {**GOOD, **change}
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(KnowledgeError, match=re.escape(problem)):
        knowledge.parse_entry(data, "30099.toml")


def test_file_named_for_another_code_is_rejected(tmp_path):
    (tmp_path / "30001.toml").write_text((ROOT / "knowledge" / "30003.toml").read_text())
    with pytest.raises(KnowledgeError, match=r"30001\.toml: holds code 30003"):
        knowledge.load_curated(tmp_path)


def test_broken_toml_is_named(tmp_path):
    (tmp_path / "30001.toml").write_text("code = ")
    with pytest.raises(KnowledgeError, match=r"30001\.toml: not valid TOML"):
        knowledge.load_curated(tmp_path)


IMPORTED = ImportedEntry(
    code=30003,
    title="Imported title",
    description="Imported words.",
    causes=("c",),
    solutions=("s",),
    log_level="ERROR",
    log_type="CARRIER",
    product="Messaging",
    last_updated="2025-02-01T00:00:00Z",
    imported_on="2026-11-20",
)


def test_curated_wins_over_imported_which_is_not_even_read():
    asked: list[int] = []

    def imported(code: int) -> ImportedEntry:
        asked.append(code)
        return IMPORTED

    ex = knowledge.explain(30003, CURATED, imported)
    assert ex.title == "Unreachable destination handset"
    assert ex.source == "this bot's knowledge base"
    assert asked == []  # a curated code costs no query
    assert knowledge.explain(63016, CURATED, imported).title == "Imported title"
    assert asked == [63016]


def test_imported_answers_for_codes_without_a_file_and_says_so():
    entry = ImportedEntry(**{**IMPORTED.__dict__, "code": 63016})
    ex = knowledge.explain(63016, CURATED, lambda code: entry)
    assert (ex.title, ex.meaning, ex.causes, ex.fixes) == (
        "Imported title",
        "Imported words.",
        ("c",),
        ("s",),
    )
    assert (
        ex.source
        == "Twilio's error dictionary (imported 2026-11-20, entry updated 2025-02-01T00:00:00Z)"
    )
    assert ex.link == "https://www.twilio.com/docs/api/errors/63016"


def test_code_known_nowhere_gets_a_pointer_not_an_error():
    ex = knowledge.explain(99999, CURATED, lambda code: None)
    assert not ex.known
    assert ex.link == "https://www.twilio.com/docs/api/errors/99999"
    assert "knowledge sync" in ex.meaning


@pytest.mark.parametrize(
    ("code", "appears_as", "expected"),
    [
        (30003, ("undelivered",), "An `undelivered` message is billed: delivery was attempted."),
        (
            21610,
            ("api", "failed"),
            "A refused API request is not billed. A `failed` message has no carrier charge, "
            "but since 30 Sep 2024 Twilio adds a $0.001 processing fee to most outbound ones.",
        ),
        (30002, ("failed",), "A `failed` message with this code is not charged."),
        (30036, ("failed",), "A `failed` message with this code is not charged."),
        (21211, ("api",), "A refused API request is not billed."),
        (30025, ("warning",), "Not by itself: it is a warning."),
    ],
)
def test_billing_follows_where_the_error_shows_up(code, appears_as, expected):
    assert knowledge.billing(code, appears_as) == expected
