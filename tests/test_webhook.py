"""Twilio's StatusCallback: signed requests through the real app, checked with twilio's own
RequestValidator, stored for the next evaluation."""

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator
from yarl import URL

from bot import app as bot_app
from bot.domain.messages import Message
from tests.backends import rows
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, make_settings

PUBLIC_URL = "https://bot.example.com"
CALLBACK = "/twilio/status-callback"
SID = "SM" + "a" * 32


def form(**fields: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "MessageSid": SID,
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
        "To": "+12025550156",
        "From": "+15005550006",
        "ApiVersion": "2010-04-01",
        **fields,
    }


def signed(fields: dict[str, str], token: str = AUTH_TOKEN, path: str = CALLBACK) -> dict[str, str]:
    signature = RequestValidator(token).compute_signature(PUBLIC_URL + path, fields)
    return {
        "X-Twilio-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


@pytest.fixture
async def client(database_url, fake_slack, twilio_sim, tmp_path, aiohttp_client):
    settings = make_settings(
        fake_slack,
        tmp_path,
        twilio_sim,
        DATABASE_URL=database_url,
        PUBLIC_URL=PUBLIC_URL + "/",
        SLACK_ALERT_CHANNEL="C0ALERTS",
        POLL_INTERVAL_SECONDS="3600",  # the first cycle runs at start; the rest are not needed
    )
    return await aiohttp_client(bot_app.build(settings))


async def stored(client) -> list[Message]:
    """What the app's store holds, on whichever backend it runs."""
    store = client.server.app[bot_app.SERVICE].store
    return await store.messages.recent(datetime.now(UTC) - timedelta(days=1))


async def test_a_signed_callback_is_stored(client, tmp_path):
    fields = form()
    response = await client.post(CALLBACK, data=urlencode(fields), headers=signed(fields))
    assert response.status == 204
    [message] = await stored(client)
    assert (message.sid, message.status, message.error_code) == (SID, "undelivered", 30003)


async def test_a_later_status_updates_the_same_row(client, tmp_path):
    for status, code in (("sent", ""), ("undelivered", "30003")):
        fields = form(MessageStatus=status, ErrorCode=code)
        response = await client.post(CALLBACK, data=urlencode(fields), headers=signed(fields))
        assert response.status == 204
    [message] = await stored(client)
    assert (message.status, message.error_code) == ("undelivered", 30003)


async def post(client, **fields: str) -> int:
    signed_form = form(**fields)
    response = await client.post(CALLBACK, data=urlencode(signed_form), headers=signed(signed_form))
    return response.status


async def stored_row(client) -> dict[str, Any]:
    """The message's row as the store keeps it, on whichever backend."""
    store = client.server.app[bot_app.SERVICE].store
    columns = ("status", "error_code", "date_created", "date_sent", "date_updated", "dlr_done")
    [row] = await rows(store, f"select {', '.join(columns)} from messages where sid = ?", (SID,))
    return dict(zip(columns, row, strict=True))


async def test_a_replayed_callback_never_moves_a_final_status_back(client, tmp_path):
    """Issue 14, item 3: `delivered` then a replay of the earlier `undelivered` (Twilio
    retries callbacks, and they arrive out of order): the message stays delivered."""
    assert await post(client, MessageStatus="sent", ErrorCode="") == 204
    assert await post(client, MessageStatus="delivered", ErrorCode="") == 204
    before = await stored_row(client)
    assert await post(client, MessageStatus="undelivered", ErrorCode="30003") == 204
    assert await post(client, MessageStatus="sent", ErrorCode="") == 204
    assert await stored_row(client) == before
    [message] = await stored(client)
    assert (message.status, message.error_code) == ("delivered", None)


async def test_a_duplicate_callback_changes_nothing(client, tmp_path):
    assert await post(client) == 204
    before = await stored_row(client)
    assert await post(client) == 204
    assert await stored_row(client) == before  # not even date_updated


async def test_a_later_carrier_decision_replaces_a_final_status(client, tmp_path):
    """A final status gives way only to a report whose RawDlrDoneDate (the carrier's
    clock, no time zone) is later than the one that set it."""
    assert await post(client, MessageStatus="undelivered", RawDlrDoneDate="2611230905") == 204
    earlier = {"MessageStatus": "delivered", "ErrorCode": "", "RawDlrDoneDate": "2611230901"}
    assert await post(client, **earlier) == 204
    assert [(m.status, m.error_code) for m in await stored(client)] == [("undelivered", 30003)]
    later = {"MessageStatus": "delivered", "ErrorCode": "", "RawDlrDoneDate": "2611230910"}
    assert await post(client, **later) == 204
    assert [(m.status, m.error_code) for m in await stored(client)] == [("delivered", None)]
    assert (await stored_row(client))["dlr_done"] == "2611230910"


async def test_a_final_status_the_poll_read_is_not_undone_by_a_callback(client, tmp_path):
    """Review of issue 14: RawDlrDoneDate is in the carrier's time zone, so it cannot be
    set against Twilio's clock. A replay of an older `undelivered` from a carrier at UTC+8
    turned a `delivered` the poll had read back."""
    store = client.server.app[bot_app.SERVICE].store
    now = datetime.now(UTC)
    await store.messages.save(
        [
            Message(
                SID,
                "delivered",
                "+12025550156",
                "+15005550006",
                "outbound-api",
                date_created=now,
                date_sent=now,
                date_updated=now,
            )
        ]
    )
    replay = {"MessageStatus": "undelivered", "RawDlrDoneDate": "2611231704"}  # 09:04 UTC+8
    assert await post(client, **replay) == 204
    assert [(m.status, m.error_code) for m in await stored(client)] == [("delivered", None)]


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no signature
        {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
        "wrong token",
        "tampered",
    ],
)
async def test_a_bad_signature_is_403_and_stores_nothing(client, tmp_path, headers):
    fields = form()
    if headers == "wrong token":
        headers = signed(fields, token="not-the-token")
    elif headers == "tampered":
        headers = signed(fields)
        fields = form(ErrorCode="30005")
    body = urlencode(fields)
    headers = {"Content-Type": "application/x-www-form-urlencoded", **headers}
    response = await client.post(CALLBACK, data=body, headers=headers)
    assert response.status == 403
    assert await stored(client) == []


async def test_without_a_public_url_there_is_no_webhook(
    fake_slack, twilio_sim, tmp_path, aiohttp_client
):
    client = await aiohttp_client(bot_app.build(make_settings(fake_slack, tmp_path, twilio_sim)))
    fields = form()
    response = await client.post(CALLBACK, data=urlencode(fields), headers=signed(fields))
    assert response.status == 404


async def test_a_malformed_body_is_a_clear_400_not_a_crash(client, tmp_path):
    headers = {"X-Twilio-Signature": "x", "Content-Type": "multipart/form-data"}
    response = await client.post(CALLBACK, data=b"--broken", headers=headers)
    assert response.status in (400, 403)
    assert await stored(client) == []


async def test_the_signed_url_includes_the_query_as_sent(client, tmp_path):
    # Twilio signs the whole URL it was given, query included, in its own encoding.
    path = CALLBACK + "?tag=a%7Eb"
    fields = form()
    url = URL(str(client.make_url("")).rstrip("/") + path, encoded=True)
    response = await client.session.post(
        url, data=urlencode(fields), headers=signed(fields, path=path)
    )
    assert response.status == 204
