"""Number hygiene: which numbers to stop sending to or to fix, and the senders still writing
to people who opted out (pure, then through the store and the terminal)."""

from datetime import UTC, datetime, timedelta

import pytest

from bot import cli, settings
from bot.answers.curated import curated_directory, load_curated
from bot.answers.hygiene_report import SHOWN, HygieneReport
from bot.answers.service import Service
from bot.domain import hygiene
from bot.domain.hygiene import Kind
from bot.domain.messages import Message
from bot.render.blocks import render
from bot.render.terminal import render_text
from bot.store import Store
from bot.store.sqlite import SqliteStore

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
POLICY = settings.load({}).policy  # STREAK_LIMIT 3 within STREAK_DAYS 7
SINCE = NOW - timedelta(days=8)
A, B, C = "+12025550101", "+12025550102", "+12025550103"


def at(hours_ago: float) -> datetime:
    return NOW - timedelta(hours=hours_ago)


Sent = tuple[str, datetime, int | None, str]  # a final message: number, moment, code, sender


def out(number: str, hours_ago: float, code: int | None, sender: str = "+15005550006") -> Sent:
    return (number, at(hours_ago), code, sender)


def assess(*sent: Sent) -> hygiene.Hygiene:
    return hygiene.assess(hygiene.recorded(sent), POLICY, SINCE, NOW)


@pytest.mark.parametrize(
    ("outcomes", "listed"),
    [
        # The last word was a definitive error: listed, with its last code and count.
        ([out(A, 30, None), out(A, 20, 30005), out(A, 10, 30005)], (Kind.DEFINITIVE, 30005, 2)),
        ([out(A, 20, 30006)], (Kind.DEFINITIVE, 30006, 1)),
        ([out(A, 20, 21614), out(A, 10, 21211)], (Kind.DEFINITIVE, 21211, 2)),
        ([out(A, 20, 30004)], (Kind.DEFINITIVE, 30004, 1)),
        ([out(A, 20, 21610)], (Kind.DEFINITIVE, 21610, 1)),
        # Only what failed since the number last took a message counts.
        (
            [out(A, 40, 30005), out(A, 30, 30005), out(A, 20, None), out(A, 10, 30006)],
            (Kind.DEFINITIVE, 30006, 1),
        ),
        # Delivered since: they opted back in, the number was fixed: not listed.
        ([out(A, 20, 21610), out(A, 10, None)], None),
        # Four 30003 in a row within the policy's days: more than the limit of three.
        ([out(A, h, 30003) for h in (40, 30, 20, 10)], (Kind.SUSPECT, 30003, 4)),
        ([out(A, h, 30003) for h in (30, 20, 10)], None),  # three: at the limit, not past
        # A delivery breaks the run; only what follows it counts.
        ([*(out(A, h, 30003) for h in (50, 40, 30)), out(A, 25, None), out(A, 10, 30003)], None),
        # A run older than STREAK_DAYS does not count.
        ([out(A, 24 * 9 + h, 30003) for h in (4, 3, 2, 1)], None),
        # Another error ends the run as a delivery does.
        ([*(out(A, h, 30003) for h in (50, 40, 30, 20)), out(A, 10, 30007)], None),
        # A definitive error outranks a run of 30003.
        (
            [*(out(A, h, 30003) for h in (50, 40, 30, 20)), out(A, 10, 30005)],
            (Kind.DEFINITIVE, 30005, 1),
        ),
    ],
)  # fmt: skip
def test_what_is_listed(outcomes, listed):
    found = assess(*outcomes)
    entries = [*found.definitive, *found.suspect]
    if listed is None:
        assert entries == []
    else:
        [entry] = entries
        assert (entry.kind, entry.code, entry.count) == listed
        assert entry.last == max(moment for _, moment, code, _ in outcomes if code == entry.code)


def test_newest_first_and_senders_writing_after_opt_out():
    found = assess(
        out(A, 30, 30005),
        out(B, 10, 30005),
        out(C, 50, 21610, sender="MG1"),
        out(C, 40, 21610, sender="MG1"),
        out(A, 35, 21610, sender="MG1"),
        out(B, 45, 21610, sender="+15005550010"),
    )
    assert [e.number for e in found.definitive] == [B, A, C]
    [mg, other] = found.opted_out_senders
    assert (mg.sender, mg.messages, mg.numbers) == ("MG1", 3, 2)
    assert (mg.first, mg.last) == (at(50), at(35))
    assert other.sender == "+15005550010"


def report(full: bool, as_csv: bool = False, count: int = 3) -> HygieneReport:
    found = assess(*(out(f"+1202555{i:04d}", i + 1, 30005) for i in range(count)))
    return HygieneReport(found, {30005: "Unknown destination handset"}, POLICY, full, as_csv)


def test_slack_sees_counts_and_the_newest_masked():
    text, blocks = render(report(full=False, count=SHOWN + 4))
    shown = str(blocks)
    assert text.startswith(f"Number hygiene: {SHOWN + 4} to stop or fix")
    assert "+1•••••••000" in shown and "+12025550000" not in shown
    assert "+1•••••••013" not in shown  # the eleventh and after: counted, not listed
    assert "and 4 more: `python -m bot hygiene --csv` lists them all" in shown
    assert "team policy" in shown


def test_the_terminal_sees_every_number_whole_and_csv_for_a_suppression_list():
    text = render_text(report(full=True, count=SHOWN + 4))
    assert "+12025550013" in text and "lists them all" not in text
    lines = render_text(report(full=True, as_csv=True)).splitlines()
    assert lines[0] == "kind,number,last_error,title,count,first_seen,last_seen,do"
    assert lines[1].startswith("definitive,+12025550000,30005,Unknown destination handset,1,")
    assert len(lines) == 4


def test_nothing_to_clean_says_so():
    text = render_text(HygieneReport(assess(), {}, POLICY, True))
    assert "Number hygiene: 0 to stop or fix, 0 suspect" in text
    assert "No number needs attention." in text


def message(i: int, to: str, hours_ago: float, code: int | None, sender="+15005550006"):
    moment = at(hours_ago)
    status = "undelivered" if code else "delivered"
    return Message(
        f"SM{i:032x}", status, to, sender, "outbound-api", error_code=code,
        date_created=moment, date_sent=moment,
    )  # fmt: skip


async def test_from_the_store(store: Store):
    """Both backends hand the same outcomes; the service builds the lists from them."""
    saved = [
        message(1, A, 30, None),
        message(2, A, 20, 30005),
        message(3, B, 40, 30003),
        message(4, B, 30, 30003),
        message(5, B, 20, 30003),
        message(6, B, 10, 30003),
        message(7, C, 20, 21610, sender="MG1"),
        message(8, C, 10, None),  # opted back in
        message(9, "+12025550199", 5, None),  # never failed: not read at all
    ]
    await store.messages.save(saved)
    found = await store.messages.hygiene(hygiene.CODES, 30003, SINCE)
    said = hygiene.recorded((m.to, m.date_sent, m.error_code, m.from_) for m in saved)
    assert sorted(found.failures, key=repr) == sorted(said.failures, key=repr)
    assert found.lasts == said.lasts
    assert "+12025550199" not in found.lasts  # never failed: not read
    service = Service(load_curated(curated_directory(), POLICY), store, POLICY, clock=lambda: NOW)
    made = await service.hygiene(full=True, as_csv=False)
    assert [(e.number, e.kind) for e in made.hygiene.definitive] == [(A, Kind.DEFINITIVE)]
    assert [(e.number, e.count) for e in made.hygiene.suspect] == [(B, 4)]
    assert [s.sender for s in made.hygiene.opted_out_senders] == ["MG1"]
    assert made.titles == {
        30005: "Unknown destination handset",
        30003: "Unreachable destination handset",
    }


def test_python_m_bot_hygiene_csv(tmp_path, capsys):
    import asyncio

    path = tmp_path / "bot.db"
    store = SqliteStore(str(path))
    asyncio.run(store.messages.save([message(1, A, 2, 30005)]))
    store.close()
    assert cli.main(["hygiene", "--csv"], {"DATABASE_PATH": str(path)}) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("kind,number")
    assert lines[1].startswith(f"definitive,{A},30005,")
