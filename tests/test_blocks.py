"""Block Kit rendering: escaping, Slack's limits, and the same content as the terminal."""

import json
from pathlib import Path

import pytest

from bot import settings
from bot.answers import curated, knowledge
from bot.answers.commands import Answer, Notice, Usage
from bot.answers.dictionary import ImportedEntry
from bot.render import blocks, terminal

POLICY = settings.load({}).policy

CURATED = curated.load_curated(Path(__file__).parent.parent / "knowledge", POLICY)


def walk_texts(block_list):
    for block in block_list:
        if "text" in block:
            yield block["type"], block["text"]["text"]
        for field in block.get("fields", []):
            yield "field", field["text"]
        for element in block.get("elements", []):
            text = element.get("text")
            yield element["type"], text["text"] if isinstance(text, dict) else text


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [("<!channel>", "&lt;!channel&gt;"), ("a & b", "a &amp; b"), ("<@U1|x>", "&lt;@U1|x&gt;")],
)
def test_escape(raw, escaped):
    assert blocks.escape(raw) == escaped


@pytest.mark.parametrize(
    ("text", "limit", "clipped"),
    [
        ("abcdef", 10, "abcdef"),
        ("abcdef", 4, "abc…"),
        ("ab &amp; c", 6, "ab …"),
        ("a&lt;b", 4, "a…"),
    ],
)
def test_clip_never_cuts_an_escape(text, limit, clipped):
    assert blocks.clip(text, limit) == clipped


@pytest.mark.parametrize("code", sorted(CURATED))
def test_every_entry_renders_within_slacks_limits(code):
    text, rendered = blocks.render(knowledge.explain(code, CURATED))
    assert len(rendered) <= 50
    for kind, value in walk_texts(rendered):
        limit = {"header": 150, "field": 2000, "mrkdwn": 2000, "plain_text": 75}.get(kind, 3000)
        assert len(value) <= limit, (kind, len(value))
    assert text and len(text) <= 3000


def test_a_huge_imported_entry_is_clipped_to_the_limits():
    entry = ImportedEntry(
        code=63016,
        title="T" * 400,
        description="<!here> " + "d" * 10_000,
        causes=tuple("c" * 500 for _ in range(40)),
        solutions=("s" * 5000,),
        log_level="",
        log_type="",
        product="",
        last_updated="",
        imported_on="2026-11-23",
    )
    text, rendered = blocks.render(knowledge.explain(63016, {}, entry))
    texts = [value for _, value in walk_texts(rendered)]
    assert all(len(value) <= 3000 for value in texts)
    assert rendered[0]["text"]["text"].endswith("…") and len(rendered[0]["text"]["text"]) == 150
    assert all("<!here>" not in value for value in [*texts, text])


def test_terminal_and_slack_say_the_same_things():
    ex = knowledge.explain(30003, CURATED)
    text = terminal.render_text(ex)
    _, rendered = blocks.render(ex)
    slack = "\n".join(value for _, value in walk_texts(rendered))
    for item in [ex.title, *ex.causes, *ex.fixes]:  # the link is a button URL in Slack
        assert item[:60] in " ".join(text.split())
        assert blocks.escape(item)[:60] in slack


def test_the_sources_are_links_with_the_day_they_were_checked():
    ex = knowledge.explain(30003, CURATED)
    _, rendered = blocks.render(ex)
    [source] = [
        e["text"]
        for b in rendered
        if b["type"] == "context"
        for e in b["elements"]
        if e["text"].startswith("Source:")
    ]
    assert source.startswith(f"Source: this bot's knowledge base, checked {ex.checked}, from ")
    assert "<https://www.twilio.com/docs/api/errors/30003|Twilio error 30003>" in source
    assert "<https://help.twilio.com/articles/360042744973|Twilio Help Center>" in source
    assert source.count("<") == len(ex.sources)  # the links, and nothing else
    text = terminal.render_text(ex)
    assert f"checked {ex.checked}, from:" in text
    assert all(f"  {url}" in text for url in ex.sources)


def test_notice_and_usage_render():
    _, notice = blocks.render(Notice("No <!channel> here"))
    assert notice == [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "No &lt;!channel&gt; here", "verbatim": True},
        }
    ]


def test_every_mrkdwn_object_is_verbatim_so_at_here_stays_text():
    def mrkdwn_objects(value):
        if isinstance(value, dict):
            if value.get("type") == "mrkdwn":
                yield value
            for inner in value.values():
                yield from mrkdwn_objects(inner)
        elif isinstance(value, list):
            for inner in value:
                yield from mrkdwn_objects(inner)

    answers: list[Answer] = [
        knowledge.explain(30003, CURATED),
        Usage("why @here"),
        Notice("@channel"),
    ]
    for answer in answers:
        found = list(mrkdwn_objects(blocks.render(answer)[1]))
        assert found and all(obj["verbatim"] is True for obj in found)
    text, usage = blocks.render(Usage("bad"))
    assert text == "bad" and len(usage) == 2


def test_an_incident_masks_numbers_and_mentions_only_who_acknowledged():
    from datetime import UTC, datetime, timedelta

    from bot.domain.alerting import Incident
    from bot.domain.spikes import Reading
    from bot.domain.thresholds import Severity
    from bot.render.incident_blocks import render_incident

    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    reading = Reading(
        code=30003,
        severity=Severity.CRITICAL,
        failed=12,
        final=100,
        recipients=11,
        baseline=0.01,
        since=now - timedelta(minutes=15),
        until=now,
        senders=(("+15005550006", 8), ("MG123", 4)),
        countries=(("US", 12),),
        carriers=(("<!channel> Wireless", 3),),
        samples=("SM" + "1" * 32,),
        spark=(None, 0.0, 0.12),
    )
    incident = Incident("k", 30003, Severity.CRITICAL, now, now, acknowledged_by="U0ACK")
    text, blocks = render_incident(incident, reading, None)
    content = json.dumps(blocks, ensure_ascii=False)
    assert text == "🔴 Critical: 30003: 12.0%"
    assert "5005550006" not in content and "+1•••••••006 (8)" in content
    assert "&lt;!channel&gt; Wireless" in content and "<!channel>" not in content
    assert "Acknowledged by <@U0ACK>" in content
    assert "` ▁█`" in content


def test_status_names_who_acknowledged_with_a_mention_and_nothing_else():
    """Issue 14, item 21: /twilio status showed the acknowledger as a raw ID."""
    from datetime import UTC, datetime

    from bot.answers.status import StatusReport
    from bot.domain.alerting import Incident
    from bot.domain.thresholds import Severity

    now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    incidents = (
        Incident("k1", 30003, Severity.CRITICAL, now, now, acknowledged_by="U0ONCALL", id=1),
        Incident("k2", 30002, Severity.CRITICAL, now, now, acknowledged_by="<!channel>", id=2),
    )
    report = StatusReport("AC" + "0" * 32, None, (), incidents, {}, now)
    _, rendered = blocks.render(report)
    text = "\n".join(b["text"]["text"] for b in rendered if b.get("text") and "text" in b["text"])
    assert "acknowledged by <@U0ONCALL>" in text
    assert "acknowledged by &lt;!channel&gt;" in text and "<!channel>" not in text


def test_masking_keeps_the_addresses_of_twilio_pages_and_masks_the_rest():
    """A shared `why SM…` answer masks every field; the article IDs in the addresses of
    its sources (help.twilio.com/articles/223183…) are not phone numbers."""
    explained = knowledge.explain(30003, CURATED)
    help_pages = [url for url in explained.sources if "help.twilio.com/articles/" in url]
    assert help_pages  # 30003 rests on a Help Center article
    _, plain = blocks.render(explained)
    _, masked = blocks.render(explained, masked=True)
    for url in help_pages:
        assert f"<{url}|" in json.dumps(masked, ensure_ascii=False)
    assert masked == plain  # nothing else in it is a number
    text, shown = blocks.render(Notice("Call +1 202 555 0156 or see the docs"), masked=True)
    assert "+1•••••••156" in text and "202 555" not in json.dumps(shown)
