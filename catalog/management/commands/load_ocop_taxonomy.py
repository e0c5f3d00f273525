"""`manage.py load_ocop_taxonomy`: load the OCOP classification schemes (see catalog.taxonomy)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext

from catalog.models import OcopCategory
from catalog.taxonomy import TaxonomyDataError, load_ocop_taxonomy


class Command(BaseCommand):
    help = "Load the OCOP classification (QĐ 1048/2019 and QĐ 148/2023) and link old leaves to current ones."

    def add_arguments(self, parser):
        parser.add_argument(
            "--data-dir",
            type=Path,
            default=None,
            help="Folder holding the taxonomy and mapping CSV files (default: settings.OCOP_DATA_DIR).",
        )

    def handle(self, *args, data_dir=None, **options):
        data_dir = data_dir or settings.OCOP_DATA_DIR
        try:
            result = load_ocop_taxonomy(data_dir=data_dir)
        except FileNotFoundError as error:
            raise CommandError(gettext("Missing data file: %(file)s") % {"file": error.filename}) from error
        except TaxonomyDataError as error:
            raise CommandError(str(error)) from error

        self.stdout.write(gettext("OCOP categories loaded from %(folder)s.") % {"folder": data_dir})
        for scheme, counts in result.schemes.items():
            self.stdout.write(
                gettext("%(what)s: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.")
                % {"what": OcopCategory.Scheme(scheme).label, **vars(counts)}
            )
        self.stdout.write(
            gettext("Old-scheme leaves linked to a current leaf: %(linked)d (%(changed)d set by this run).")
            % {"linked": result.linked, "changed": result.links_changed}
        )
        for category in result.without_counterpart:
            self.stdout.write(
                gettext("No current counterpart: %(seq)d. %(name)s") % {"seq": category.seq, "name": category.name}
            )
        if not result.changed:
            self.stdout.write(gettext("Nothing changed: the database already matched the files."))
