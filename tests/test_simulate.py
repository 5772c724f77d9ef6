"""`python -m bot simulate`: the simulator served on its own, and the settings it prints."""

import asyncio
import logging

from bot import app as bot_app
from bot import cli, settings
from bot.adapters.twilio import TwilioApi
from bot.answers.curated import curated_directory, load_curated
from bot.answers.service import Service
from bot.simulation import simulate
from bot.store.sqlite import SqliteStore
from tests.conftest import make_settings


async def printed_settings(lines: list[str], tmp_path) -> settings.Settings:
    """Once the simulator has said how to reach it, the settings it printed."""
    async with asyncio.timeout(5):
        while not any("Ctrl-C stops it" in line for line in lines):
            await asyncio.sleep(0.01)
    exports = dict(
        line.strip().removeprefix("export ").split("=", 1)
        for line in lines
        if line.strip().startswith("export ")
    )
    return settings.load({**exports, "DATABASE_PATH": str(tmp_path / "b.db")})


async def test_the_printed_settings_point_the_bot_at_the_simulator(tmp_path):
    """Issue 14, item 15: the simulator could not be run on its own."""
    lines: list[str] = []
    stop = asyncio.Event()
    served = asyncio.create_task(
        simulate.run(spike=True, out=lines.append, stop=stop, minute_seconds=0.05)
    )
    try:
        config = await printed_settings(lines, tmp_path)
        sid = next(line.split()[-1] for line in lines if "python -m bot why SM" in line)
        store, twilio = SqliteStore(config.database_path), TwilioApi(config)
        try:
            assert (await twilio.fetch_account()).status == "active"
            curated = load_curated(curated_directory(), config.policy)
            report = await Service(curated, store, config.policy, twilio).explain_message(sid)
            assert report.message.error_code == 30003
        finally:
            await twilio.close()
            store.close()
        assert "15% failing with 30003" in lines[-1]
    finally:
        stop.set()
        assert await served == 0


async def test_simulated_subaccounts_have_their_own_traffic(tmp_path):
    """Issue 18, item 4: `simulate --subaccounts N`, for WATCH_SUBACCOUNTS by hand."""
    from bot.adapters.twilio.accounts import subaccounts

    lines: list[str] = []
    stop = asyncio.Event()
    served = asyncio.create_task(
        simulate.run(out=lines.append, stop=stop, minute_seconds=0.05, subaccounts=2)
    )
    try:
        config = await printed_settings(lines, tmp_path)
        assert config.subaccounts.every
        twilio = TwilioApi(config)
        try:
            found = await subaccounts(twilio)
            assert [a.friendly_name for a in found] == ["Client 01", "Client 02"]
            theirs = await twilio.for_account(found[0].sid).list_messages(page_size=1000)
            assert theirs and {m.account_sid for m in theirs} == {found[0].sid}
        finally:
            await twilio.close()
        assert "2 subaccounts, 10 a minute each" in lines[-1]
    finally:
        stop.set()
        assert await served == 0


def test_simulate_is_a_terminal_command_listed_in_help(capsys):
    assert cli.main(["help"], {}) == 0
    out = capsys.readouterr().out
    for command in ("serve", "poll", "demo", "simulate [--port N]", "knowledge sync"):
        assert f"python -m bot {command}" in out
    assert "`" not in out  # no Slack formatting in a terminal (issue 14, item 20)


async def test_serving_says_how_it_runs_in_one_line(fake_slack, tmp_path, aiohttp_client, caplog):
    """Issue 14, item 16: serving printed nothing on start."""
    with caplog.at_level(logging.INFO, logger="bot.app"):
        await aiohttp_client(bot_app.build(make_settings(fake_slack, tmp_path)))
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("serving")]
    assert line == (
        "serving Slack over HTTP on 0.0.0.0:3000 (/slack/events); not watching "
        f"(SLACK_ALERT_CHANNEL and the Twilio settings turn it on); database {tmp_path}/bot.db"
    )


def test_serving_loads_the_geocoder_before_the_first_lookup(tmp_path):
    """What item 22's preload is for, checked in a fresh process: after the app's start,
    phonenumbers' geocoder is imported, so the first lookup does not pay for it."""
    import subprocess
    import sys

    code = (
        "import asyncio, sys\n"
        "from aiohttp.test_utils import TestServer\n"
        "from bot import app, settings\n"
        "async def main():\n"
        f"    config = settings.load({{'DATABASE_PATH': {str(tmp_path / 'b.db')!r},"
        " 'SLACK_BOT_TOKEN': 'xoxb-t', 'SLACK_SIGNING_SECRET': 's'})\n"
        "    server = TestServer(app.build(config), host='127.0.0.1', port=0)\n"
        "    before = 'phonenumbers.geocoder' in sys.modules\n"
        "    await server.start_server()\n"
        "    print(before, 'phonenumbers.geocoder' in sys.modules)\n"
        "    await server.close()\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["False", "True"], done.stderr
