"""Every UI string is translated (STYLE.md: Simplified Chinese first, English second).

The catalogue is read as gettext reads it: entries with an empty msgstr or marked fuzzy are not
compiled, so the page shows English in the middle of Chinese.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation
from django.utils.translation.template import templatize

SRC = Path(settings.BASE_DIR) / "src" / "greenisle"
LOCALE = SRC / "locale"
ZH = LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po"
EN = LOCALE / "en" / "LC_MESSAGES" / "django.po"


@dataclass
class Entry:
    line: int
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    @property
    def translations(self) -> list[str]:
        return list(self.msgstr.values())


def parse_po(path: Path) -> list[Entry]:
    """The entries of a .po file (the header and obsolete ``#~`` entries left out)."""
    entries: list[Entry] = []
    entry = Entry(line=1)
    target: tuple[str, int] | None = None

    def flush() -> None:
        nonlocal entry
        if entry.msgstr:
            entries.append(entry)
        entry = Entry(line=number + 1)

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            if entry.msgstr:
                flush()
            continue
        if line.startswith("#,"):
            if entry.msgstr:
                flush()
            entry.flags |= {f.strip() for f in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        if keyword.startswith('"'):
            assert target is not None, f"{path}:{number}: continuation without a keyword"
            value = ast.literal_eval(line)
            name, index = target
            if name == "msgstr":
                entry.msgstr[index] += value
            else:
                setattr(entry, name, (getattr(entry, name) or "") + value)
            continue
        if keyword in ("msgctxt", "msgid") and entry.msgstr:
            flush()
        value = ast.literal_eval(rest)
        match = re.fullmatch(r"msgstr(?:\[(\d+)\])?", keyword)
        if match:
            index = int(match.group(1) or 0)
            entry.msgstr[index] = value
            target = ("msgstr", index)
        elif keyword in ("msgid", "msgid_plural", "msgctxt"):
            setattr(entry, keyword, value)
            target = (keyword, 0)
        else:
            raise AssertionError(f"{path}:{number}: unexpected {keyword!r}")
    if entry.msgstr:
        entries.append(entry)
    return [e for e in entries if e.msgid]  # the header has an empty msgid


def template_strings() -> dict[str, str]:
    """Every string marked for translation in the templates, as makemessages finds it: template → msgid."""
    found: dict[str, str] = {}
    call = re.compile(
        r"\b(?:gettext|_|pgettext)\(\s*(?:u?'(?:[^'\\]|\\.)*'\s*,\s*)?u?'((?:[^'\\]|\\.)*)'\s*\)"
    )
    for path in sorted(SRC.rglob("templates/**/*.html")):
        for match in call.finditer(templatize(path.read_text(encoding="utf-8"), origin=str(path))):
            found.setdefault(ast.literal_eval(f"'{match.group(1)}'"), str(path.relative_to(SRC)))
    return found


GETTEXT_NAMES = {"_", "gettext", "gettext_lazy", "pgettext", "pgettext_lazy", "ngettext", "ngettext_lazy"}


def python_strings() -> dict[str, str]:
    """Every literal passed to gettext and friends in the code (migrations aside): msgid → file."""
    found: dict[str, str] = {}
    for path in sorted(SRC.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name not in GETTEXT_NAMES or not node.args:
                continue
            arg = node.args[1] if name.startswith("pgettext") and len(node.args) > 1 else node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.setdefault(arg.value, f"{path.relative_to(SRC)}:{node.lineno}")
    return found


@pytest.fixture(scope="module")
def zh() -> list[Entry]:
    return parse_po(ZH)


def test_the_parser_reads_the_catalogue(zh):
    by_id = {e.msgid: e for e in zh}
    assert by_id["Command centre"].translations == ["调度指挥中心"]
    assert len(zh) > 100


def test_no_chinese_entry_is_left_empty(zh):
    empty = [f"{ZH.name}:{e.line} {e.msgid!r}" for e in zh if not all(s.strip() for s in e.translations)]
    assert not empty


@pytest.mark.parametrize("po", [ZH, EN], ids=["zh_Hans", "en"])
def test_no_entry_is_fuzzy(po):
    fuzzy = [f"{po.name}:{e.line} {e.msgid!r}" for e in parse_po(po) if "fuzzy" in e.flags]
    assert not fuzzy


def test_no_chinese_entry_is_the_english_copied(zh):
    # An msgstr copied from the msgid is translated in name only; acronyms (API, MQTT) stay as they are.
    copied = [
        f"{e.line} {e.msgid!r}" for e in zh if e.msgstr[0] == e.msgid and re.search(r"\b[a-z]{3,}\b", e.msgid)
    ]
    assert not copied


def test_placeholders_survive_translation(zh):
    placeholder = re.compile(r"%\(\w+\)[sdf]|%[sdf]|\{\w*\}")
    broken = [
        f"{e.line} {e.msgid!r}"
        for e in zh
        for s in e.translations
        if sorted(placeholder.findall(s)) != sorted(placeholder.findall(e.msgid_plural or e.msgid))
        and sorted(placeholder.findall(s)) != sorted(placeholder.findall(e.msgid))
    ]
    assert not broken


def test_every_template_string_is_in_the_catalogue(zh):
    ids = {e.msgid for e in zh}
    strings = template_strings()
    assert len(strings) > 50  # the extraction works
    missing = {msgid: where for msgid, where in strings.items() if msgid not in ids}
    assert not missing


def test_every_string_marked_in_the_code_is_in_the_catalogue(zh):
    ids = {e.msgid for e in zh}
    missing = {msgid: where for msgid, where in python_strings().items() if msgid not in ids}
    assert not missing


def test_the_compiled_catalogue_matches_the_source(zh):
    """What the running site says is what the .po says (a stale or missing .mo shows English)."""
    with translation.override("zh-hans"):
        wrong = {
            e.msgid: translation.gettext(e.msgid)
            for e in zh
            if e.msgid_plural is None and e.msgctxt is None and translation.gettext(e.msgid) != e.msgstr[0]
        }
    assert not wrong
