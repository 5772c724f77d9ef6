"""The install a newcomer and CI get: bounded dependencies, the tested versions pinned, and
CI running exactly the README's commands (issue 14, item 23)."""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
REQUIREMENT = re.compile(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?(.*)")


def requirements() -> list[str]:
    extras = PROJECT["optional-dependencies"]
    return [*PROJECT["dependencies"], *extras["test"], *extras["dev"]]


def test_every_dependency_is_bounded_below_its_next_major_version():
    for requirement in requirements():
        name, _, spec = REQUIREMENT.fullmatch(requirement).groups()  # type: ignore[union-attr]
        if name == "twilio-ops-bot":
            continue
        assert ">=" in spec and "<" in spec.replace("<=", ""), requirement


def test_the_tested_versions_are_pinned_and_within_the_ranges():
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pinned = {
        canonicalize_name(name): Version(version)
        for name, version in (line.split("==") for line in lines if "==" in line)
    }
    for requirement in requirements():
        wanted = Requirement(requirement)
        if wanted.name == "twilio-ops-bot":
            continue
        version = pinned.get(canonicalize_name(wanted.name))
        assert version is not None, f"{wanted.name} is not pinned"
        assert version in wanted.specifier, f"{wanted.name} {version} not in {wanted.specifier}"


def test_ci_runs_the_readmes_install_and_test_commands():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    install = re.search(r"^(python -m pip install .*'\.\[test\]')", readme, re.M)
    test = re.search(r"^(python -m pytest)\s", readme, re.M)
    assert install and test
    assert install.group(1) in ci and test.group(1) in ci
