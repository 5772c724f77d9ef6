"""`python -m bot demo`: the whole loop on the simulator, printed, with no network."""

import re

import pytest

from bot import cli
from tests.postgres import schemas


@pytest.mark.slow
def test_the_demo_tells_the_whole_story(capsys, database_url):
    """On a SQLite file of its own, and, with DATABASE_URL, in a PostgreSQL schema of its
    own that it drops at the end."""
    env = {"DATABASE_URL": database_url} if database_url else {}
    assert cli.main(["demo", "--suspend", "--fast"], env) == 0
    text = capsys.readouterr().out
    order = [
        "NEW MESSAGE 1 in C0DEMO",
        "🟠 Warning: 30003 Unreachable destination handset",
        "🔴 Critical: 30003",
        "now critical",
        "✅ Resolved: 30003",
        "resolved after",
        # A country the account-wide rule misses: caught, named, resolved.
        "the route to the United Kingdom fails",
        "🔴 Critical: 30003 · United Kingdom (+44): Unreachable destination handset",
        "the route to the United Kingdom is back",
        "✅ Resolved: 30003 · United Kingdom (+44)",
        # Before any message fails for it (issue 18, item 3).
        "Twilio's review fails the Messaging Service's 10DLC campaign",
        "⚠️ A2P 10DLC campaign · MARKETING of Service",
        "The sample messages do not show",
        "What fails: US messages from its numbers, with 30034",
        "Twilio suspends the account.",
        "🔴 Critical: account suspended (30002 Account suspended)",
        "Twilio reinstates the account.",
        "✅ Resolved: 30002 Account suspended",
        "the account is active and no message",
        "$ python -m bot why SM",
        "What 30003 means",
        "$ python -m bot lookup +1202555",
        "Line type:       mobile",
        "$ python -m bot hygiene",
        "Number hygiene: 3 to stop or fix, 1 suspect",
        "+12025550199 · 30005 Unknown destination handset",
        "Senders still writing to numbers that opted out (21610)",
    ]
    missing = [piece for piece in order if piece not in text]
    assert not missing, (missing, text)
    positions = [text.index(piece) for piece in order]
    assert positions == sorted(positions)
    # Calm incidents (issue 13): the spike's message is edited only when a reader would act
    # (26 edits before), its samples never change, and the thread keeps every change.
    spike = text[text.index("NEW MESSAGE 1") : text.index("the route to the United Kingdom")]
    assert 3 <= spike.count("MESSAGE 1 EDITED") <= 8
    edits = spike.split("MESSAGE 1 EDITED")[1:]
    assert not any("• SM" in edit for edit in edits)
    assert spike.count("now critical") == 1 and spike.count("now warning") == 1
    # The country's incident: its own baseline and share; the account's rate stayed under
    # the account's rule all along (the UK has about 2 % of the traffic).
    uk = text[
        text.index("the route to the United Kingdom fails") : text.index("Twilio's review fails")
    ]
    assert "NEW MESSAGE 2" in uk and "NEW MESSAGE 3" not in uk
    assert "Its own baseline" in uk and "Share of traffic" in uk
    assert "+4474001" not in uk  # masked, as every number in the channel
    # The suspension is a state, not a rate (issue 13).
    suspension = text[text.index("Twilio suspends") : text.index("$ python -m bot why")]
    assert "Rate" not in suspension and "0.0%" not in suspension
    # The closing `why` agrees with the incident it just showed (issue 13).
    why = text[text.index("$ python -m bot why") : text.index("$ python -m bot lookup")]
    said = " ".join(why.split())
    assert "This message was sent" in said and "incident on 30003" in said
    peak = re.search(r"the rate peaked at ([0-9.]+%)", spike)
    assert peak is not None
    assert f"peaking at {peak.group(1)}" in said
    # The channel never sees a full number; only the asker's `why` and `lookup` do.
    channel = text[: text.index("$ python -m bot why")]
    assert "+1•••••••006" in channel
    assert "5005550006" not in channel
    if database_url:
        assert not [name for name in schemas(database_url) if name.startswith("bot_demo")]


@pytest.mark.slow
def test_the_demo_through_event_streams(capsys):
    """Issue 18, item 4: `demo --events` sets the sink up with `events setup`'s own code,
    and the same story arrives through the stream (duplicates, out of order, a few
    events lost): the same incidents open and resolve, the Messages list is read only at
    the first cycle and each sweep, and the sweeps find what the stream lost."""
    assert cli.main(["demo", "--fast", "--events"], {}) == 0
    text = capsys.readouterr().out
    order = [
        "$ python -m bot events setup",
        "The bot received the test event",
        "🟠 Warning: 30003 Unreachable destination handset",
        "✅ Resolved: 30003",
        "🔴 Critical: 30003 · United Kingdom (+44): Unreachable destination handset",
        "✅ Resolved: 30003 · United Kingdom (+44)",
        "Event Streams pushed",
    ]
    positions = [text.index(piece) for piece in order]
    assert positions == sorted(positions)
    summary = re.search(
        r"; (\d+) lost on the way\)\. The watcher read the Messages list in (\d+) requests.*"
        r"the sweeps found (\d+) final statuses",
        text.replace("\n", " "),
    )
    assert summary is not None
    lost, reads, found = (int(n) for n in summary.groups())
    assert reads <= 92 // 15 + 14  # first cycle's pages and a page or two a sweep
    assert 0 < found <= lost
