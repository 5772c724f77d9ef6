"""manifest.yml declares exactly what the app registers, and the app answers it."""

from pathlib import Path

import yaml  # type: ignore[import-untyped]

from bot.adapters import slack
from tests.conftest import button_click, post_signed, slash_command

MANIFEST = yaml.safe_load((Path(__file__).parent.parent / "manifest.yml").read_text())


def test_commands_match_the_app():
    declared = tuple(c["command"] for c in MANIFEST["features"]["slash_commands"])
    assert declared == slack.COMMANDS


def test_interactivity_is_on_because_the_app_handles_actions():
    assert slack.ACTIONS
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True


def test_bot_scopes_are_exactly_what_the_bot_needs():
    assert sorted(MANIFEST["oauth_config"]["scopes"]["bot"]) == [
        "chat:write",
        "chat:write.public",
        "commands",
    ]


def test_urls_point_at_the_events_endpoint():
    urls = [c["url"] for c in MANIFEST["features"]["slash_commands"]]
    urls.append(MANIFEST["settings"]["interactivity"]["request_url"])
    assert all(url.endswith("/slack/events") for url in urls)


async def test_each_button_the_app_registers_is_answered_and_no_other(client, fake_slack):
    """What build_app registers (slack.ACTIONS is the table it loops over) against what
    the app does: each is acknowledged, an unknown one is not (Bolt: 404)."""
    for action_id in slack.ACTIONS:
        click = button_click(action_id, "1", fake_slack.response_url(action_id))
        assert await post_signed(client, click) == 200, action_id
    click = button_click("not_a_button_of_ours", "1", fake_slack.response_url("other"))
    assert await post_signed(client, click) == 404


async def test_each_declared_command_is_answered_and_no_other(client, fake_slack):
    for i, command in enumerate(slack.COMMANDS):
        body = slash_command("help", fake_slack.response_url(f"m{i}"), command=command)
        assert await post_signed(client, body) == 200
        await fake_slack.wait_for(lambda i=i: fake_slack.calls(f"response/m{i}"))
    body = slash_command("help", fake_slack.response_url("other"), command="/other")
    assert await post_signed(client, body) == 404
