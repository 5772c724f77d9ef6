"""Settings: one table, read from the environment, shown by --help and in the README."""

from pathlib import Path

import pytest

from bot import cli, settings
from bot.errors import SettingsError
from tests.support import run_bot

ROOT = Path(__file__).parent.parent


def test_defaults():
    config = settings.load({})
    assert (config.port, config.log_level, config.database_path) == (
        3000,
        "INFO",
        "twilio-ops-bot.db",
    )
    assert config.slack_api_url == "https://slack.com/api/"
    assert not config.socket_mode
    assert (config.default_region, config.lookups_per_user_per_hour) == ("US", 30)


def test_values_are_read_and_tidied():
    config = settings.load(
        {
            "PORT": "8080",
            "LOG_LEVEL": "debug",
            "SLACK_API_URL": "http://127.0.0.1:9/api",
            "ALLOWED_USERS": " U1, U2 ,,",
            "SLACK_APP_TOKEN": "xapp-1",
            "DEFAULT_REGION": "gb",
            "LOOKUPS_PER_USER_PER_HOUR": "0",
        }
    )
    assert config.port == 8080 and config.log_level == "DEBUG"
    assert config.default_region == "GB" and config.lookups_per_user_per_hour == 0
    assert config.slack_api_url == "http://127.0.0.1:9/api/"  # slack_sdk needs the slash
    assert config.allowed_users == frozenset({"U1", "U2"})
    assert config.socket_mode


def test_repr_hides_every_secret():
    config = settings.load(
        {
            "SLACK_BOT_TOKEN": "xoxb-secret-1",
            "SLACK_SIGNING_SECRET": "secret-2",
            "SLACK_APP_TOKEN": "xapp-secret-3",
            "TWILIO_AUTH_TOKEN": "secret-4",
            "TWILIO_API_SECRET": "secret-5",
        }
    )
    assert "secret" not in repr(config)


def test_every_unusable_value_is_named_at_once():
    with pytest.raises(SettingsError) as caught:
        settings.load(
            {
                "PORT": "eighty",
                "LOG_LEVEL": "LOUD",
                "SLACK_API_URL": "slack.com",
                "TWILIO_API_URL": "localhost:9",
                "TWILIO_ACCOUNT_SID": "ACnope",
                "TWILIO_TIMEOUT_SECONDS": "-1",
                "DEFAULT_REGION": "Narnia",
                "LOOKUPS_PER_USER_PER_HOUR": "-3",
            }
        )
    assert len(caught.value.problems) == 8
    assert [p.split(" ")[0] for p in caught.value.problems] == list(caught.value.names)
    assert "DEFAULT_REGION must be a country code such as US or GB, not 'Narnia'" in (
        caught.value.problems
    )


TWILIO_OK = {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "t"}
TWILIO_MISSING = [
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and TWILIO_API_SECRET)",
]


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({}, ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", *TWILIO_MISSING]),
        ({"SLACK_BOT_TOKEN": "xoxb-1", **TWILIO_OK}, ["SLACK_SIGNING_SECRET"]),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", **TWILIO_OK}, []),
        ({"SLACK_APP_TOKEN": "xapp-1", **TWILIO_OK}, ["SLACK_BOT_TOKEN"]),
        ({"SLACK_APP_TOKEN": "xapp-1", "SLACK_BOT_TOKEN": "xoxb-1", **TWILIO_OK}, []),
        (
            {
                "SLACK_APP_TOKEN": "xapp-1",
                "SLACK_BOT_TOKEN": "xoxb-1",
                "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
                "TWILIO_API_KEY": "SK1",
            },
            ["TWILIO_API_SECRET"],
        ),
        (
            {
                "SLACK_APP_TOKEN": "xapp-1",
                "SLACK_BOT_TOKEN": "xoxb-1",
                "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
                "TWILIO_API_KEY": "SK1",
                "TWILIO_API_SECRET": "s",
            },
            [],
        ),
    ],
)
def test_problems_for_serving(env, missing):
    assert settings.problems_for_serving(settings.load(env)) == missing


def test_api_key_is_preferred_over_the_auth_token():
    both = settings.load({**TWILIO_OK, "TWILIO_API_KEY": "SK1", "TWILIO_API_SECRET": "s"})
    assert both.twilio_credentials == ("SK1", "s")
    assert settings.load(TWILIO_OK).twilio_credentials == ("AC" + "0" * 32, "t")


def test_readme_carries_the_settings_table_from_code():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- settings:start -->\n")[1].split("\n<!-- settings:end -->")[0]
    assert section == settings.render_markdown(), (
        "README settings table is out of date; paste the output of "
        "`python -c 'from bot.settings import render_markdown; print(render_markdown())'`"
    )


def test_help_lists_every_setting(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"], {})
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for setting in settings.SETTINGS:
        assert setting.name in out
    assert "why" in out and "knowledge" in out


def test_serving_without_settings_lists_what_is_missing(tmp_path):
    result = run_bot(env={"DATABASE_PATH": str(tmp_path / "x.db")})
    assert result.returncode == 2
    assert "missing SLACK_BOT_TOKEN" in result.stderr
    assert "missing SLACK_SIGNING_SECRET" in result.stderr
    assert "missing TWILIO_ACCOUNT_SID" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.db").exists()


def test_bad_value_exits_2_without_traceback():
    result = run_bot("status", env={"PORT": "x"})
    assert result.returncode == 2 and "PORT must be a port number" in result.stderr
    assert "Traceback" not in result.stderr


def test_watcher_settings_are_read_into_thresholds():
    config = settings.load(
        {
            "ALERT_CODES": "30003, 30005,30003",
            "ALERT_WARNING_PERCENT": "2.5",
            "ALERT_WINDOW_MINUTES": "10",
            "ALERT_RESOLVE_AFTER": "5",
        }
    )
    assert config.alert_codes == (30003, 30005)
    assert config.thresholds.warning_rate == 0.025 and config.thresholds.resolve_after == 5
    assert config.thresholds.window.total_seconds() == 600
    assert settings.load({}).alert_codes == (30002, 30003)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ALERT_CODES", "30003,abc"),
        ("ALERT_CODES", ","),
        ("ALERT_MIN_RECIPIENTS", "2.5"),
        ("POLL_INTERVAL_SECONDS", "nan"),
        ("RETENTION_DAYS", "0"),
    ],
)
def test_unusable_watcher_settings_are_named(name, value):
    with pytest.raises(SettingsError) as caught:
        settings.load({name: value})
    assert [p.split(" ")[0] for p in caught.value.problems] == [name]


def test_watching_needs_a_channel_a_token_and_twilio():
    assert settings.problems_for_watching(settings.load({})) == [
        "SLACK_BOT_TOKEN",
        "SLACK_ALERT_CHANNEL",
        *TWILIO_MISSING,
    ]


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        (
            {"SLACK_BOT_TOKEN": "xapp-1-A0-1-abc"},
            "SLACK_BOT_TOKEN must be the Bot User OAuth Token, under OAuth & Permissions "
            "(xoxb-…); that looks like the token for SLACK_APP_TOKEN",
        ),
        (
            {"SLACK_APP_TOKEN": "xoxb-1-abc"},
            "SLACK_APP_TOKEN must be an App-Level Token, under Basic Information (xapp-…); "
            "that looks like the token for SLACK_BOT_TOKEN",
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxp-user-token"},
            "SLACK_BOT_TOKEN must be the Bot User OAuth Token, under OAuth & Permissions (xoxb-…)",
        ),
    ],
)
def test_each_slack_token_must_be_the_right_kind(env, problem):
    """Issue 14, item 18: an app-level token as SLACK_BOT_TOKEN served silently."""
    with pytest.raises(SettingsError) as caught:
        settings.load(env)
    assert caught.value.problems == [problem]


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"EVENTS_USER": "twilio"}, "EVENTS_USER and EVENTS_PASSWORD go together"),
        ({"EVENTS_PASSWORD": "p"}, "EVENTS_USER and EVENTS_PASSWORD go together"),
        ({"EVENTS_USER": "a:b", "EVENTS_PASSWORD": "p"}, "cannot hold a colon"),
        ({"EVENTS_SWEEP_MINUTES": "0"}, "EVENTS_SWEEP_MINUTES must be a positive number"),
    ],
)
def test_event_streams_settings_that_cannot_work_are_named(env, problem):
    with pytest.raises(SettingsError) as raised:
        settings.load(env)
    assert problem in str(raised.value)


def test_event_streams_credentials_are_a_pair_and_a_secret():
    loaded = settings.load({"EVENTS_USER": "twilio", "EVENTS_PASSWORD": "s3cret-pass"})
    assert loaded.events_credentials == ("twilio", "s3cret-pass")
    assert "s3cret-pass" in loaded.secrets and "s3cret-pass" not in repr(loaded)
    assert settings.load({}).events_credentials is None
