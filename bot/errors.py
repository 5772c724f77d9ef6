"""The bot's exceptions: one tree, so callers can catch exactly what they can handle.

    BotError                 anything the bot raises on purpose
    ├── SettingsError        settings are missing or cannot be read
    ├── KnowledgeError       a curated knowledge file breaks the schema
    └── DictionaryError      Twilio's error dictionary could not be fetched or read

Adapters catch the exceptions of the libraries they wrap and raise one of these
`from` the original. Handlers turn these into a short reply; anything else is a bug
and is logged with its traceback.
"""


class BotError(Exception):
    """Anything the bot raises on purpose."""


class SettingsError(BotError):
    """Settings are missing or cannot be read; `problems` lists every one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class KnowledgeError(BotError):
    """A curated knowledge file breaks the schema."""


class DictionaryError(BotError):
    """Twilio's error dictionary could not be fetched or read."""
