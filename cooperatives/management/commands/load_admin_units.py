"""`manage.py load_admin_units`: load the provinces, districts and communes (see cooperatives.units)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext, ngettext, pgettext

from cooperatives.units import AdminUnitDataError, load_administrative_units


class Command(BaseCommand):
    help = "Load the administrative units of Yên Bái and Lào Cai before and after 1/7/2025 (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--data-dir",
            type=Path,
            default=None,
            help="Folder holding the reference CSV files (default: settings.OCOP_DATA_DIR).",
        )

    def handle(self, *args, data_dir=None, **options):
        data_dir = data_dir or settings.OCOP_DATA_DIR
        try:
            result = load_administrative_units(data_dir=data_dir)
        except FileNotFoundError as error:
            raise CommandError(gettext("Missing data file: %(file)s") % {"file": error.filename}) from error
        except AdminUnitDataError as error:
            raise CommandError(str(error)) from error

        self.stdout.write(gettext("Administrative units loaded from %(folder)s.") % {"folder": data_dir})
        for label, counts in (
            (pgettext("administrative level", "Provinces"), result.provinces),
            (pgettext("administrative level", "Districts"), result.districts),
            (pgettext("administrative level", "Communes"), result.communes),
        ):
            self.stdout.write(
                gettext("%(what)s: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.")
                % {"what": label, **vars(counts)}
            )
        self.stdout.write(
            gettext(
                "Successions: %(created)d created, %(updated)d updated, %(deleted)d removed, %(unchanged)d unchanged."
            )
            % {
                "created": result.successions_created,
                "updated": result.successions_updated,
                "deleted": result.successions_deleted,
                "unchanged": result.successions_unchanged,
            }
        )
        if result.abolished_without_successor:
            self.stdout.write(
                ngettext(
                    "%(count)d commune abolished on 1/1/2025 has no known successor: %(codes)s.",
                    "%(count)d communes abolished on 1/1/2025 have no known successor: %(codes)s.",
                    len(result.abolished_without_successor),
                )
                % {
                    "count": len(result.abolished_without_successor),
                    "codes": ", ".join(result.abolished_without_successor),
                }
            )
        if result.disagreements:
            self.stdout.write(
                self.style.WARNING(
                    ngettext(
                        "The data files disagree in %(count)d place:",
                        "The data files disagree in %(count)d places:",
                        len(result.disagreements),
                    )
                    % {"count": len(result.disagreements)}
                )
            )
            for disagreement in result.disagreements:
                self.stdout.write(f"  - {disagreement.describe()}")
        if not result.changed:
            self.stdout.write(gettext("Nothing changed: the database already matched the files."))
