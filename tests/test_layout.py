"""The layout keeps its promises: one adapter per outside library, pure modules that do no
I/O, the simulator apart from what serves production, and no module over 300 lines. Read
from the source's imports, so a change that breaks a rule fails here, not in review."""

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).parent.parent / "bot"
MODULES = sorted(BOT.rglob("*.py"))

# Each outside library, and the one package allowed to import it.
OWNERS = {
    "slack_bolt": "adapters/slack",
    "slack_sdk": "adapters/slack",
    "twilio": "adapters/twilio",
    "sqlite_utils": "store/sqlite",
    "sqlite3": "store/sqlite",
    "psycopg": "store/postgresql",
    "psycopg_pool": "store/postgresql",
}
# Pure: values in, values out. No I/O library, no adapter, no backend, no clock of their own.
PURE = [
    *sorted((BOT / "domain").glob("*.py")),
    *sorted((BOT / "render").glob("*.py")),
    # Of the answers, those that ask Twilio and the store themselves are not.
    *(
        p
        for p in sorted((BOT / "answers").glob("*.py"))
        if p.stem not in {"service", "lookups", "finding"}
    ),
    BOT / "watcher" / "detect.py",
    BOT / "watcher" / "incidents.py",
    BOT / "watcher" / "health.py",
    BOT / "store" / "repositories.py",
    BOT / "store" / "values.py",
]
IMPURE = (
    "asyncio",
    "aiohttp",
    "bot.adapters",
    "bot.store.sqlite",
    "bot.store.postgresql",
    "bot.simulation",
    "os",
)


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def where(path: Path) -> str:
    return path.relative_to(BOT).as_posix()


def test_the_rules_read_real_modules():
    assert len(MODULES) > 60 and all(p.exists() for p in PURE)
    assert "slack_bolt.async_app" in imports(BOT / "adapters" / "slack" / "listeners.py")


@pytest.mark.parametrize("library", sorted(OWNERS))
def test_only_its_adapter_imports_an_outside_library(library):
    importers = {
        where(p)
        for p in MODULES
        if any(name == library or name.startswith(f"{library}.") for name in imports(p))
    }
    assert importers, f"nothing imports {library}: the rule tests nothing"
    assert all(name.startswith(OWNERS[library] + "/") for name in importers), importers


@pytest.mark.parametrize("path", PURE, ids=where)
def test_a_pure_module_does_no_io(path):
    used = {
        name
        for name in imports(path)
        for banned in IMPURE
        if name == banned or name.startswith(f"{banned}.")
    }
    assert not used, f"{where(path)} imports {sorted(used)}"


def test_only_the_command_line_reaches_the_simulator():
    importers = {
        where(p)
        for p in MODULES
        if not where(p).startswith("simulation/")
        and any(name.startswith("bot.simulation") for name in imports(p))
    }
    assert importers == {"cli/entry.py"}


def test_no_module_is_over_300_lines():
    long = {where(p): n for p in MODULES if (n := len(p.read_text().splitlines())) > 300}
    assert not long
