"""The bot's exceptions: one tree, so callers can catch exactly what they can handle.

    BotError                 anything the bot raises on purpose
    ├── SettingsError        settings are missing or cannot be read
    ├── NotConfigured        an answer needs settings that are not set (Twilio's)
    ├── KnowledgeError       a curated knowledge file breaks the schema
    ├── DictionaryError      Twilio's error dictionary could not be fetched or read
    ├── StoreError           the database (SQLite file or PostgreSQL) cannot be used
    ├── LimitReached         a user has used up their paid Twilio lookups for the hour
    ├── WatcherBusy          another watcher is watching the same database
    │   └── LeaseLost            this watcher's lease passed to another: its writes are refused
    ├── TwilioError          a Twilio API call gave no usable answer
    │   ├── NotFound             the resource does not exist in this account (20404)
    │   ├── CredentialsRejected  Twilio refused the credentials (401, 20003)
    │   ├── TwilioUnavailable    429, 5xx, timeouts or broken answers, after retries
    │   └── TwilioRejected       any other refusal, with Twilio's error code
    └── SlackError           a Slack Web API call did not go through
        ├── SlackUnavailable     429, 5xx or no answer, after retries: try again later
        ├── SlackRejected        Slack refused this call (`invalid_blocks`, a deleted message)
        └── SlackMisconfigured   Slack refuses every call to a channel, or the token, until
                                 someone fixes the setup (`channel_not_found`, `invalid_auth`)

Adapters catch the exceptions of the libraries they wrap and raise one of these
`from` the original. Handlers turn these into a short reply; anything else is a bug
and is logged with its traceback.
"""


class BotError(Exception):
    """Anything the bot raises on purpose."""


class SettingsError(BotError):
    """Settings cannot be read; `problems` lists every one, `names` their settings."""

    def __init__(self, problems: list[str], names: tuple[str, ...]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.names = names


class KnowledgeError(BotError):
    """A curated knowledge file breaks the schema."""


class DictionaryError(BotError):
    """Twilio's error dictionary could not be fetched or read."""


class StoreError(BotError):
    """The database cannot be used: the SQLite file (DATABASE_PATH) or PostgreSQL
    (DATABASE_URL); the message says what to do."""


class NotConfigured(BotError):
    """An answer needs settings that are not set, such as Twilio's credentials."""


class LimitReached(BotError):
    """A user has used up their paid lookups for the hour; the message says until when."""


class WatcherBusy(BotError):
    """Another watcher holds the database's lease; two would post every alert twice."""


class LeaseLost(WatcherBusy):
    """The lease passed to another watcher mid-cycle: this one's fenced writes are refused."""


class TwilioError(BotError):
    """A Twilio API call gave no usable answer; the message is fit to show a user."""


class NotFound(TwilioError):
    """The resource does not exist in this account (20404)."""


class CredentialsRejected(TwilioError):
    """Twilio refused the credentials (HTTP 401, or 20003)."""


class TwilioUnavailable(TwilioError):
    """Twilio rate limited, failed, timed out or answered garbage, even after retries."""


class TwilioRejected(TwilioError):
    """Twilio refused the request for another reason; `code` is Twilio's error code."""

    def __init__(self, message: str, code: int | None) -> None:
        super().__init__(message)
        self.code = code


class SlackError(BotError):
    """A Slack Web API call did not go through."""


class SlackUnavailable(SlackError):
    """Slack rate limited, failed or did not answer, even after retries."""


class SlackRejected(SlackError):
    """Slack refused the call; the message carries Slack's error, such as channel_not_found."""


class SlackMisconfigured(SlackError):
    """Slack refuses the token, or every call to a channel, until someone changes the app
    or the channel; `fix` says what to do, `channel` is None when the token is refused."""

    def __init__(self, message: str, fix: str, channel: str | None) -> None:
        super().__init__(message)
        self.fix = fix
        self.channel = channel
