"""The curated knowledge base: schema, official titles, coverage, and how answers are chosen."""

import csv
import datetime
import re
from pathlib import Path

import pytest

from bot import settings
from bot.answers import curated, knowledge
from bot.answers.dictionary import ImportedEntry
from bot.domain import policy
from bot.errors import KnowledgeError
from bot.render import terminal

POLICY = settings.load({}).policy

ROOT = Path(__file__).parent.parent
_TSV = (Path(__file__).parent / "data" / "official-titles.tsv").read_text(encoding="utf-8")
OFFICIAL = {
    int(row["code"]): row["title"] for row in csv.DictReader(_TSV.splitlines(), delimiter="\t")
}
CURATED = curated.load_curated(ROOT / "knowledge", POLICY)


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
        "short code",
        "long code",
        "landline",
        "ValidityPeriod",
        "Lookup",
        "one more test message through the API",
    ):
        assert fact in text3, fact
    # The seed's numbers are practice, not Twilio's: only in the policy, from settings.
    policy3 = " ".join(e3.policy)
    for fact in ("30 minutes", "at most 3 times", "5%", "10%", "more than 3", "7 days"):
        assert fact in policy3, fact
        assert fact not in text3, fact
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
        "email",
    ):
        assert fact in text2, fact
    assert e2.retry == "no"
    # Claims no Twilio page makes (issue 13): the reason on a dashboard notice, and a second
    # account as certain permanent termination.
    assert "dashboard" not in text2 and "permanent termination" not in text2


def test_the_policy_in_answers_follows_the_settings():
    strict = settings.load(
        {"RETRY_WAIT_MINUTES": "45", "STREAK_LIMIT": "2", "ALERT_WARNING_PERCENT": "7.5"}
    ).policy
    policy3 = " ".join(curated.load_curated(ROOT / "knowledge", strict)[30003].policy)
    assert "no sooner than 45 minutes" in policy3
    assert "more than 2 failures in a row" in policy3
    assert "Above 7.5% of sends" in policy3
    shown = knowledge.explain(30003, CURATED).sections()
    assert [s.heading for s in shown].count(policy.LABEL) == 1


@pytest.mark.parametrize("code", sorted(CURATED))
def test_every_answer_shows_its_sources_and_when_they_were_checked(code):
    entry = CURATED[code]
    text = " ".join(terminal.render_text(knowledge.explain(code, CURATED)).split())
    assert f"this bot's knowledge base, checked {entry.checked.isoformat()}" in text
    assert all(url in text for url in entry.sources)
    # Where only Twilio's dictionary text could be read, the answer says so.
    said = "against Twilio's error dictionary (its page was not to be had)" in text
    assert said == (entry.checked_against == "dictionary")


@pytest.mark.parametrize("code", sorted(CURATED))
def test_no_answer_contradicts_itself_on_who_stopped_the_message(code):
    """Issue 13, item 7, as invariants over every code: a code Twilio blocks claims no
    carrier receipt and no delivery attempt; a carrier-reported failure does not say
    Twilio kept it; an incoming message is never Twilio's to send, nor ours to retry; an
    event that fails nothing offers no retry and no fee."""
    entry = CURATED[code]
    lines = dict(knowledge.explain(code, CURATED).facts())
    shown, retry, billed = lines["Shows up as"], lines["Retry helps?"], lines.get("Billed?", "")
    if entry.reporter != "carrier":
        assert "carrier's receipt" not in shown and "delivery was attempted" not in billed
    if entry.reporter == "carrier":
        assert "did not send it to any carrier" not in shown
    if entry.direction == "inbound":
        assert "never left Twilio" not in shown and "did not send it" not in shown
        assert retry.startswith("Nothing for you to send again") and not billed
    elif entry.appears_as == ("log",):
        assert retry.startswith("Nothing to retry") and "no message fails" in shown
        assert billed == "Not by itself: no message fails because of it."
    else:
        assert not retry.startswith("Nothing")


@pytest.mark.parametrize(
    ("code", "shown", "billed"),
    [
        (30003, "the carrier's receipt says it did not arrive", "delivery was attempted"),
        (30034, "Twilio itself stopped it", "not say whether Twilio waives"),
        (30007, "a carrier's filter or Twilio's own stopped it", "whoever stopped it"),
        (30008, "refused on its way to the carrier", "with this code is not charged"),
        (30002, "Twilio did not send it to any carrier", "with this code is not charged"),
        (30038, "An incoming message with status `failed`", None),
        (30025, "A warning in Twilio's Error Logs: no message fails", "Not by itself"),
        (30009, "An error in Twilio's Error Logs: no message fails", None),
        (21211, "Refused by the API", "A refused API request is not billed."),
    ],
)
def test_what_each_kind_of_code_says(code, shown, billed):
    lines = dict(knowledge.explain(code, CURATED).facts())
    assert shown in lines["Shows up as"]
    if billed is None:
        assert "Billed?" not in lines
    else:
        assert billed in lines["Billed?"]


GOOD = {
    "code": 30099,
    "title": "A title",
    "appears_as": ["failed"],
    "reporter": "twilio",
    "direction": "outbound",
    "level": "error",
    "meaning": "It means something.",
    "causes": ["a cause"],
    "fixes": ["a fix"],
    "retry": "no",
    "related": [],
    "sources": ["https://www.twilio.com/docs/api/errors/30099"],
    "checked": datetime.date(2026, 12, 2),
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
        ({"retry": "none"}, 'retry "none" is for codes that appear in the logs alone'),
        ({"appears_as": ["log"]}, 'retry "none" is for codes that appear in the logs alone'),
        ({"reporter": "the moon"}, "reporter has ['the moon']"),
        ({"direction": "sideways"}, "direction has ['sideways']"),
        ({"level": "fatal"}, "level has ['fatal']"),
        ({"sources": None}, "missing sources"),
        ({"checked": None}, "missing checked"),
        ({"checked": "2026-12-02"}, "checked must be a date"),
        ({"sources": ["https://example.com/errors/30099"]}, "sources must be pages on twilio.com"),
        (
            {"sources": ["https://www.twilio.com/docs/api/errors/30003"]},
            "sources must include Twilio's page for the code",
        ),
        ({"fixes": ["wait {retry_wait_minutes} minutes"]}, "fixes[0] uses policy values"),
        ({"policy": ["wait {retry_hours} hours"]}, "names unknown policy values ['retry_hours']"),
        ({"policy": ["a { brace"]}, "policy[0]:"),
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
        curated.parse_entry(data, "30099.toml", POLICY)


def test_the_good_example_passes_and_its_policy_is_filled():
    entry = curated.parse_entry(
        {**GOOD, "policy": ["wait {retry_wait_minutes} min, above {systemic_percent}"]},
        "30099.toml",
        POLICY,
    )
    assert entry.policy == ("wait 30 min, above 5%",)


def test_file_named_for_another_code_is_rejected(tmp_path):
    (tmp_path / "30001.toml").write_text((ROOT / "knowledge" / "30003.toml").read_text())
    with pytest.raises(KnowledgeError, match=r"30001\.toml: holds code 30003"):
        curated.load_curated(tmp_path, POLICY)


def test_broken_toml_is_named(tmp_path):
    (tmp_path / "30001.toml").write_text("code = ")
    with pytest.raises(KnowledgeError, match=r"30001\.toml: not valid TOML"):
        curated.load_curated(tmp_path, POLICY)


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


def test_curated_wins_over_imported():
    ex = knowledge.explain(30003, CURATED, IMPORTED)
    assert ex.title == "Unreachable destination handset"
    assert ex.source == "this bot's knowledge base, checked 2026-12-02"
    assert knowledge.explain(63016, CURATED, IMPORTED).title == "Imported title"


def test_imported_answers_for_codes_without_a_file_and_says_so():
    entry = ImportedEntry(**{**IMPORTED.__dict__, "code": 63016})
    ex = knowledge.explain(63016, CURATED, entry)
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
    ex = knowledge.explain(99999, CURATED, None)
    assert not ex.known
    assert ex.link == "https://www.twilio.com/docs/api/errors/99999"
    assert "knowledge sync" in ex.meaning


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (30003, "An `undelivered` message is billed: delivery was attempted."),
        (
            21610,
            "A refused API request is not billed. A `failed` message has no carrier charge, "
            "but since 30 Sep 2024 Twilio adds a $0.001 processing fee to most outbound ones.",
        ),
        (30002, "A `failed` message with this code is not charged."),
        (30036, "A `failed` message with this code is not charged."),
        (
            21408,
            "A refused API request is not billed. "
            "A `failed` message with this code is not charged.",
        ),
        (
            30008,
            "A `failed` message with this code is not charged. "
            "An `undelivered` message is billed: delivery was attempted.",
        ),
        (21211, "A refused API request is not billed."),
        (30025, "Not by itself: no message fails because of it."),
        (30038, ""),  # an incoming message: no claim
    ],
)
def test_billing_follows_where_the_error_shows_up(code, expected):
    assert knowledge.billing(CURATED[code]) == expected


async def test_the_service_reads_the_dictionary_only_for_codes_without_a_file():
    """A curated code costs no query (it was knowledge.explain's to avoid, before the
    store became async; the service decides now)."""
    from bot.answers.service import Service

    asked: list[int] = []

    class Dictionary:
        async def entry(self, code: int) -> ImportedEntry:
            asked.append(code)
            return ImportedEntry(**{**IMPORTED.__dict__, "code": code})

    class Store:
        dictionary = Dictionary()

    service = Service(CURATED, Store(), POLICY)  # type: ignore[arg-type]
    assert (await service.explain(30003)).title == "Unreachable destination handset"
    assert (await service.explain(63016)).title == "Imported title"
    assert asked == [63016]
