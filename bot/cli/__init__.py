"""The command line (`entry`: the parser and `main`), what each terminal command does
(`runs`), and what the terminal prints besides answers (`output`)."""

from bot.cli.entry import log_handler, main

__all__ = ["log_handler", "main"]
