"""Socket Mode: with SLACK_APP_TOKEN set, the bot dials the (fake) Slack websocket."""

from aiohttp.test_utils import TestServer

from bot import app as bot_app
from tests.conftest import make_settings


async def test_slash_command_over_socket_mode(fake_slack, tmp_path):
    config = make_settings(
        fake_slack, tmp_path, SLACK_APP_TOKEN="xapp-1-test", SLACK_SIGNING_SECRET=""
    )
    web_app = bot_app.build(config)
    assert not any(
        r.resource.canonical == "/slack/events"
        for r in web_app.router.routes()
        if r.resource is not None
    )
    server = TestServer(web_app, host="127.0.0.1", port=0)
    await server.start_server()  # runs cleanup_ctx: opens the Socket Mode connection
    try:
        await fake_slack.wait_for(lambda: fake_slack.calls("apps.connections.open"))
        await fake_slack.envelopes.put(
            {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": {
                    "team_id": "T0001",
                    "channel_id": "C0001",
                    "user_id": "U0001",
                    "command": "/twilio",
                    "text": "why 30003",
                    "response_url": fake_slack.response_url("socket"),
                    "api_app_id": "A0001",
                },
            }
        )
        await fake_slack.wait_for(lambda: fake_slack.calls("response/socket") and fake_slack.acks)
        assert [a["envelope_id"] for a in fake_slack.acks] == ["env-1"]
        [reply] = fake_slack.calls("response/socket")
        assert reply["text"].startswith("30003 · Unreachable destination handset")
    finally:
        await server.close()


async def test_the_web_server_comes_up_while_slack_is_unreachable(
    fake_slack, tmp_path, aiohttp_client, unused_tcp_port
):
    config = make_settings(
        fake_slack,
        tmp_path,
        SLACK_APP_TOKEN="xapp-1-test",
        SLACK_SIGNING_SECRET="",
        SLACK_API_URL=f"http://127.0.0.1:{unused_tcp_port}/api/",  # nothing listens here
    )
    client = await aiohttp_client(bot_app.build(config))
    response = await client.get("/healthz")
    assert response.status == 200 and (await response.json())["mode"] == "socket"
