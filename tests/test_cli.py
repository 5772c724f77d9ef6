"""The terminal: `python -m bot why …` and `python -m bot knowledge …`."""

from pathlib import Path

from aiohttp import web

from bot import cli
from bot.store.sqlite import SqliteStore
from tests.conftest import serving
from tests.support import query, run_bot

SAMPLE = Path(__file__).parent / "data" / "sample-error-codes.json"


def test_why_30003_explains_an_unreachable_handset():
    result = run_bot("why", "30003")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("30003 · Unreachable destination handset\n")
    assert "carrier" in out and "`undelivered`" in out
    assert "https://www.twilio.com/docs/api/errors/30003" in out


def test_why_usage_problem_exits_2(capsys, tmp_path):
    assert cli.main(["why", "banana"], {"DATABASE_PATH": str(tmp_path / "b.db")}) == 2
    out = capsys.readouterr().out
    # As a terminal shows it: no Slack backticks, the command as typed there (item 20).
    assert "banana is neither an error code nor a Message SID. Try python -m bot why 30003" in out
    assert "`" not in out


def test_why_does_not_create_a_database(capsys, tmp_path):
    assert cli.main(["why", "30002"], {"DATABASE_PATH": str(tmp_path / "b.db")}) == 0
    assert not (tmp_path / "b.db").exists()


def test_why_answers_though_a_watcher_setting_is_unusable(capsys, tmp_path):
    env = {"DATABASE_PATH": str(tmp_path / "b.db"), "POLL_INTERVAL_SECONDS": "soon"}
    env |= {"ALERT_CODES": "30003;30007"}
    assert cli.main(["why", "30003"], env) == 0
    out, err = capsys.readouterr()
    assert out.startswith("30003 · Unreachable destination handset")
    assert err.splitlines() == [
        "python -m bot: POLL_INTERVAL_SECONDS must be a positive number, not 'soon' "
        "(ignored: `why` does not use it)",
        "python -m bot: ALERT_CODES must be 5-digit Twilio error codes, not '30003;30007' "
        "(ignored: `why` does not use it)",
    ]


def test_help_and_knowledge_read_even_fewer_settings(capsys, tmp_path):
    env = {"DATABASE_PATH": str(tmp_path / "bot.db"), "TWILIO_ACCOUNT_SID": "AC-mine"}
    assert cli.main(["help"], env | {"PORT": "x"}) == 0
    assert cli.main(["knowledge", "import", str(SAMPLE)], env) == 0
    assert cli.main(["why", "30003"], env) == 2  # why reads the account SID
    err = capsys.readouterr().err
    assert err.count("TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits (ignored") == 2
    assert "PORT must be a port number, not 'x' (ignored: `help` does not use it)" in err


def test_a_secret_in_the_wrong_setting_is_not_echoed(capsys, tmp_path):
    token = "xoxb-1234567890-abcdef"
    env = {"DATABASE_PATH": str(tmp_path / "b.db"), "SLACK_BOT_TOKEN": token}
    assert cli.main(["why", "30003"], env | {"ALERT_CODES": token}) == 0
    assert cli.main(["status"], env | {"ALERT_CODES": token}) == 2
    err = capsys.readouterr().err
    assert token not in err
    assert (
        err.count("ALERT_CODES must be 5-digit Twilio error codes, not a value of 22 characters")
        == 2
    )


def test_a_secret_pasted_into_default_region_is_never_echoed(capsys, tmp_path):
    """Issue 14, item 14: it was echoed upper-cased, which the redaction missed."""
    secret = "q8w7e6r5t4y3u2i1o0p9a8s7d6f5g4h3"  # a signing secret, in the wrong place
    env = {"DATABASE_PATH": str(tmp_path / "b.db"), "SLACK_SIGNING_SECRET": secret}
    assert cli.main(["lookup", "202 555 0156"], env | {"DEFAULT_REGION": secret}) == 2
    err = capsys.readouterr().err
    assert secret not in err and secret.upper() not in err
    assert "DEFAULT_REGION must be a country code such as US or GB, not a value of 32" in err


def test_a_very_short_secret_does_not_garble_the_messages(capsys, tmp_path):
    env = {"DATABASE_PATH": str(tmp_path / "b.db"), "SLACK_SIGNING_SECRET": "s"}
    assert cli.main(["status"], env | {"PORT": "sixty"}) == 2
    err = capsys.readouterr().err
    assert "PORT must be a port number, not 'sixty'" in err and "[secret]" not in err


def test_a_setting_the_command_reads_must_be_mended_first(capsys, tmp_path):
    env = {"DATABASE_PATH": str(tmp_path / "b.db"), "POLL_INTERVAL_SECONDS": "soon"}
    assert cli.main(["lookup", "202 555 0156"], env | {"DEFAULT_REGION": "Narnia"}) == 2
    assert cli.main(["status"], env) == 2  # status reports on the watcher: it reads them all
    assert cli.main(["serve"], env) == 2
    assert cli.main(["poll", "--once"], env) == 2
    err = capsys.readouterr().err
    assert err.count("cannot start, fix these settings first") == 4
    assert "DEFAULT_REGION must be a country code" in err and "ignored" not in err


def test_import_then_why_answers_from_twilios_dictionary(capsys, tmp_path, database_url):
    env = {"DATABASE_PATH": str(tmp_path / "bot.db"), "DATABASE_URL": database_url}
    assert cli.main(["why", "63016"], env) == 0
    assert "There is no explanation for 63016 here yet" in capsys.readouterr().out

    assert cli.main(["knowledge", "import", str(SAMPLE)], env) == 0
    assert "Read 4 error codes (3 unreadable items skipped); stored 4" in capsys.readouterr().out

    assert cli.main(["why", "63016"], env) == 0
    out = capsys.readouterr().out
    assert out.startswith("63016 · Sample title for a modern code")
    assert "1. First sample cause" in out
    assert "Source: Twilio's error dictionary (imported " in out

    # A curated entry still wins over the imported one.
    assert cli.main(["why", "30003"], env) == 0
    assert "Source: this bot's knowledge base" in capsys.readouterr().out


def test_import_of_a_missing_file_is_a_clear_error(capsys, tmp_path):
    env = {"DATABASE_PATH": str(tmp_path / "bot.db")}
    assert cli.main(["knowledge", "import", str(tmp_path / "nope.json")], env) == 1
    assert "cannot read" in capsys.readouterr().err


def test_sync_downloads_and_stores(capsys, tmp_path):
    async def dictionary(request: web.Request) -> web.Response:
        return web.Response(body=SAMPLE.read_bytes(), content_type="application/json")

    app = web.Application()
    app.router.add_get("/docs/api/errors/twilio-error-codes.json", dictionary)
    env = {"DATABASE_PATH": str(tmp_path / "bot.db")}
    with serving(app) as origin:
        url = f"{origin}/docs/api/errors/twilio-error-codes.json"
        assert cli.main(["knowledge", "sync", "--url", url], env) == 0
        assert cli.main(["knowledge", "sync", "--url", origin + "/gone"], env) == 1
    assert "answered HTTP 404" in capsys.readouterr().err
    assert query(env["DATABASE_PATH"], "select count(*) from dictionary")[0][0] == 4


def test_database_file_is_private(tmp_path):
    path = tmp_path / "bot.db"
    SqliteStore(str(path)).close()
    assert path.stat().st_mode & 0o777 == 0o600


def test_python_m_bot_serves_on_port_and_stops_cleanly(tmp_path, unused_tcp_port):
    import json
    import os
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
    env.update(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET="secret",
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        TWILIO_AUTH_TOKEN="token",
        HOST="127.0.0.1",
        PORT=str(unused_tcp_port),
        DATABASE_PATH=str(tmp_path / "bot.db"),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bot"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        health = None
        while health is None:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "server did not come up in 30 s"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{unused_tcp_port}/healthz") as r:
                    health = json.load(r)
            except OSError:
                time.sleep(0.1)  # the server is still starting; bounded by the deadline
        assert health["status"] == "ok" and health["knowledge_entries"] >= 60
    finally:
        process.send_signal(signal.SIGTERM)  # what a platform sends on deploy
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_a_bad_database_path_is_one_line_not_a_traceback(capsys, tmp_path):
    (tmp_path / "dir.db").mkdir()
    env = {"DATABASE_PATH": str(tmp_path / "dir.db")}
    assert cli.main(["knowledge", "import", str(SAMPLE)], env) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot use the database") and "Traceback" not in err


def test_a_port_already_in_use_is_one_line(capsys, tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": "secret",
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "TWILIO_AUTH_TOKEN": "token",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "DATABASE_PATH": str(tmp_path / "bot.db"),
        }
        assert cli.main([], env) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_debug_logging_keeps_slack_bodies_out(tmp_path):
    # slack_sdk logs whole message bodies at DEBUG, and they hold full phone numbers.
    import logging

    assert cli.main(["help"], {"LOG_LEVEL": "DEBUG", "DATABASE_PATH": str(tmp_path / "b")}) == 0
    assert logging.getLogger("slack_sdk").getEffectiveLevel() == logging.INFO
    assert logging.getLogger("slack_bolt").getEffectiveLevel() == logging.INFO


def test_terminal_status_builds_no_slack_client(tmp_path):
    """Issue 15: the terminal's `status` built a Slack client it never needed."""
    import subprocess
    import sys

    env = {
        "DATABASE_PATH": str(tmp_path / "b.db"),
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_ALERT_CHANNEL": "C0ALERTS",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "t",
        "TWILIO_API_URL": "http://127.0.0.1:9",
    }
    code = (
        "import sys\nfrom bot import cli\n"
        f"code = cli.main(['status'], {env!r})\n"
        "print('EXIT', code, 'slack_sdk' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.splitlines()[-1] == "EXIT 0 False", done.stderr


def test_a_bad_policy_setting_leaves_answers_on_the_default_policy(capsys, tmp_path):
    env = {"DATABASE_PATH": str(tmp_path / "b.db"), "RETRY_WAIT_MINUTES": "half an hour"}
    assert cli.main(["why", "30003"], env) == 0
    out, err = capsys.readouterr()
    assert "(`why` quotes its default instead)" in err
    assert "no sooner than 30 minutes" in " ".join(out.split())
