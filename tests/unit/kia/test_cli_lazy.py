"""kia's command groups import a command's module only when it is named, and name a missing extra."""

from __future__ import annotations

import subprocess
import sys

import click
from click.testing import CliRunner

from kia.cli import LazyGroup, cli


def test_every_office_command_is_listed_without_being_imported_first() -> None:
    result = CliRunner().invoke(cli, ["issuer", "--help"])

    assert result.exit_code == 0, result.output
    listed = {line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == {"anomalies", "batch", "card", "coverage", "db", "federation", "init", "institution", "intake",
                      "key", "log", "partner", "quarantine", "report", "serve", "terminal", "trustlist", "user"}


def test_issuing_cards_loads_neither_reports_nor_trust_lists() -> None:
    # A fresh interpreter: this one has imported much of the project already.
    script = (
        "import sys\n"
        "from kia.cli import cli\n"
        "try:\n"
        "    cli.main(['issuer', 'card', 'issue', '--help'], prog_name='kia', standalone_mode=False)\n"
        "finally:\n"
        "    print(sorted(m for m in ('issuer.cli.cards', 'issuer.cli.reports', 'issuer.cli.trust_lists',\n"
        "                              'issuer.reports', 'issuer.offline_signing') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)

    assert done.stdout.strip().splitlines()[-1] == "['issuer.cli.cards']"


def test_a_command_whose_dependency_is_missing_names_the_extra() -> None:
    @click.group(cls=LazyGroup, lazy={"draw": ("kia_absent_dependency_for_this_test", "draw", "issuer")})
    def office() -> None:
        """A group as kia issuer is built."""

    result = CliRunner().invoke(office, ["draw", "--anything"], prog_name="kia issuer")

    assert result.exit_code == 2
    assert ("'kia issuer draw' needs kia_absent_dependency_for_this_test, which is not installed: "
            "pip install 'kia-verification[issuer]'") in result.output


def test_a_missing_module_of_the_project_itself_is_not_hidden() -> None:
    @click.group(cls=LazyGroup, lazy={"draw": ("issuer.no_such_module", "draw", "issuer")})
    def office() -> None:
        """A group as kia issuer is built."""

    result = CliRunner().invoke(office, ["draw"])

    assert isinstance(result.exception, ModuleNotFoundError)
