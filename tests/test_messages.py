"""The message report: status meanings, the 30003 streak, advice, masking (pure)."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.messages import STATUS_MEANINGS, Message, build_report, count_streak

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TO = "+12025550156"


def msg(minutes_ago: float, status: str = "undelivered", code: int | None = 30003, **kw) -> Message:
    sent = NOW - timedelta(minutes=minutes_ago)
    return Message(
        sid=kw.pop("sid", f"SM{int(minutes_ago * 1000):032x}"),
        status=status,
        to=kw.pop("to", TO),
        from_="+15005550006",
        direction="outbound-api",
        error_code=code,
        date_created=sent,
        date_sent=sent,
        **kw,
    )


@pytest.mark.parametrize(
    ("history", "streak"),
    [
        ([], 0),
        ([msg(1)], 1),
        ([msg(1), msg(60), msg(120)], 3),
        ([msg(1), msg(60, "delivered", None), msg(120)], 1),
        ([msg(1), msg(30, "sent", None), msg(120)], 2),  # not final yet: skipped
        ([msg(1), msg(60, code=30005), msg(120)], 1),
        ([msg(1), msg(8 * 24 * 60)], 1),  # older than 7 days does not count
        ([msg(1, "delivered", None), msg(60)], 0),
    ],
)
def test_count_streak(history, streak):
    assert count_streak(history, NOW) == streak


def report(target: Message, history=(), sample=(), **kw):
    return build_report(
        target, None, list(history), list(sample), 1000, NOW - timedelta(hours=1), NOW
    )


def test_a_long_30003_streak_says_the_number_is_likely_inactive():
    r = report(msg(1), [msg(60), msg(120), msg(180), msg(240)])
    assert r.streak == 5
    assert any("very likely inactive" in a for a in r.advice)


def test_a_single_30003_gets_the_retry_rule():
    r = report(msg(1), [msg(60, "delivered", None)])
    assert r.advice == ("Retry no sooner than 30 minutes after the failure, and at most 3 times.",)


def test_account_rate_above_5_percent_points_away_from_the_handset():
    failing = [msg(i, to=f"+1202555{i:04d}") for i in range(1, 7)]
    fine = [msg(i, "delivered", None, to=f"+1202556{i:04d}") for i in range(1, 95)]
    r = report(msg(0.5), sample=failing + fine)
    assert (r.account.failed, r.account.final, r.account.recipients) == (6, 100, 6)
    assert r.advice[0].startswith("6% of the account's recent messages failed with 30003")


def test_a_handful_of_messages_is_too_few_to_call_a_rate_systemic():
    failing = [msg(i, to=f"+1202555{i:04d}") for i in range(1, 3)]
    r = report(msg(0.5), sample=[*failing, msg(5, "delivered", None, to="+12025569999")])
    assert r.account.rate > 0.5
    assert not any("of the account's recent messages" in a for a in r.advice)


def test_a_messaging_service_api_error_explains_the_late_failure():
    target = msg(1, "failed", 21610, messaging_service_sid="MG" + "2" * 32)
    assert any("arrived later as a `failed` message" in a for a in report(target).advice)
    without_service = msg(1, "failed", 21610)
    assert not any("arrived later" in a for a in report(without_service).advice)


@pytest.mark.parametrize("status", sorted(STATUS_MEANINGS))
def test_every_status_is_explained(status):
    facts = dict(report(msg(1, status, None)).facts())
    assert facts["Status"] == f"`{status}`: {STATUS_MEANINGS[status]}"


def test_masked_facts_hide_both_numbers():
    masked = dict(report(msg(1)).facts(masked=True))
    assert masked["To"] == "+1•••••••156" and "5550006" not in masked["From"]
    assert dict(report(msg(1)).facts())["To"] == TO
