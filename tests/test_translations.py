"""Vietnamese is the default language: every string a user reads must be in the Vietnamese
catalogue, translated, and not fuzzy."""

import shutil

import polib
import pytest
from django.conf import settings
from django.core.management import call_command

CATALOGUE = settings.BASE_DIR / "locale" / "vi" / "LC_MESSAGES" / "django.po"


def _key(entry):
    return (entry.msgctxt, entry.msgid)


def test_the_vietnamese_catalogue_has_no_untranslated_fuzzy_or_obsolete_entry():
    catalogue = polib.pofile(str(CATALOGUE))
    assert catalogue.untranslated_entries() == []
    assert [entry.msgid for entry in catalogue.fuzzy_entries()] == []
    assert [entry.msgid for entry in catalogue.obsolete_entries()] == []
    for entry in catalogue:
        if entry.msgid_plural:
            assert all(entry.msgstr_plural.values()), entry.msgid


SOURCES = ("config", "cooperatives", "catalog", "marketplace_sync", "cms", "templates", "static")


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext (xgettext) is needed to extract strings")
def test_every_string_in_the_code_is_in_the_vietnamese_catalogue(tmp_path, settings, monkeypatch):
    # Extract the code's strings into a scratch catalogue, as `make messages` does. makemessages
    # writes next to any "locale" folder it finds, so it runs on a copy of the sources.
    for name in SOURCES:
        shutil.copytree(settings.BASE_DIR / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(tmp_path)
    settings.LOCALE_PATHS = [tmp_path / "extracted"]
    call_command("makemessages", locale=["vi"], no_location=True, verbosity=0)
    extracted = polib.pofile(str(tmp_path / "extracted" / "vi" / "LC_MESSAGES" / "django.po"))
    catalogue = {_key(entry): entry for entry in polib.pofile(str(CATALOGUE)) if entry.translated()}
    missing = [entry.msgid for entry in extracted if _key(entry) not in catalogue]
    assert len(extracted) > 100
    assert missing == [], "Run `make messages` and translate these strings"
