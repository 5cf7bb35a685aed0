"""The reference pages are checked, not hoped: every environment variable the
code reads is in docs/configuration.md, and every variable listed there is
read somewhere."""

from __future__ import annotations

import re
from pathlib import Path

from activity_service.config import ActivitySettings
from catalog_service.config import CatalogSettings
from sandbox_common.settings import CommonSettings
from sandbox_worker.app import WorkerSettings
from user_service.config import UserSettings

ROOT = Path(__file__).resolve().parents[2]
CONFIGURATION = ROOT / "docs" / "configuration.md"
# Where variables are read: the code, the scripts, the chart and platform
# values, the make files and the tests (which read their own knobs).
SOURCES = ("services", "scripts", "loadtests", "deploy", "observability", "tests")
SUFFIXES = {".py", ".sh", ".mk", ".yaml", ".yml", ".tpl", ".conf"}
VARIABLE = re.compile(r"\bSANDBOX_[A-Z0-9_]*[A-Z0-9]\b")


def documented() -> set[str]:
    return set(re.findall(r"`(SANDBOX_[A-Z0-9_]+)`", CONFIGURATION.read_text()))


def settings_variables() -> set[str]:
    """SANDBOX_<FIELD> of every Settings class (pydantic reads them by prefix)."""
    classes = (CommonSettings, UserSettings, CatalogSettings, ActivitySettings, WorkerSettings)
    return {f"SANDBOX_{name.upper()}" for cls in classes for name in cls.model_fields}


def read_in_sources() -> dict[str, str]:
    """Each SANDBOX_* name written in the sources, and one file that has it."""
    found: dict[str, str] = {}
    files = [ROOT / "Makefile", *(p for d in SOURCES for p in (ROOT / d).rglob("*"))]
    for path in files:
        if path.suffix not in SUFFIXES and path.name != "Makefile":
            continue
        if "k8s" in path.parts or not path.is_file():  # rendered copies of the chart
            continue
        for name in VARIABLE.findall(path.read_text(errors="replace")):
            found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def test_every_variable_the_code_reads_is_documented() -> None:
    missing = dict.fromkeys(settings_variables() - documented(), "Settings field")
    missing |= {
        name: where for name, where in read_in_sources().items() if name not in documented()
    }
    assert not missing, f"read but not in docs/configuration.md: {missing}"


def test_every_documented_variable_is_read_somewhere() -> None:
    stale = documented() - settings_variables() - set(read_in_sources())
    assert not stale, f"in docs/configuration.md but read nowhere: {sorted(stale)}"
