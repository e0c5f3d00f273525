"""`manage.py import_register FILE [--dry-run] [--user USERNAME]`: check and import the province's
OCOP register from the command line (see catalog.register and docs/register-format.md).

Nothing is saved unless every row is good; the exit code is 1 when the file has errors, so a
script or a scheduled job can tell. Progress goes to stderr, results to stdout.
"""

import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext

from catalog.register import CheckReport, check_register, import_register, iter_problem_lines

# Below this many rows the command finishes before anyone would read a progress line.
PROGRESS_FROM_ROWS = 2_000
PROGRESS_STEP_SECONDS = 2.0


def _n(value: int) -> str:
    """5000 → "5.000" in Vietnamese (grouped as the officer reads numbers)."""
    return number_format(value, force_grouping=True)


class Command(BaseCommand):
    help = "Check the province's OCOP register (CSV or XLSX) and, if every row is good, import it."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="The register file (.xlsx or .csv).")
        parser.add_argument("--dry-run", action="store_true", help="Only check the file; save nothing.")
        parser.add_argument(
            "--user",
            dest="username",
            default=None,
            help="Username recorded as having verified the register's certificates.",
        )

    def handle(self, *args, file: Path, dry_run: bool, username: str | None, **options):
        if not file.is_file():
            raise CommandError(gettext("File not found: %(file)s") % {"file": file})
        user = None
        if username:
            try:
                user = get_user_model().objects.get_by_natural_key(username)
            except get_user_model().DoesNotExist as error:
                raise CommandError(gettext("No user with the username %(name)s.") % {"name": username}) from error

        check_progress = self._progress(gettext("Checked %(done)s/%(total)s rows (%(percent)d%%)"))
        if dry_run:
            report = check_register(file, filename=file.name, progress=check_progress)
            saved = False
        else:
            result = import_register(
                file,
                filename=file.name,
                user=user,
                check_progress=check_progress,
                progress=self._progress(gettext("Saved %(done)s/%(total)s rows (%(percent)d%%)")),
            )
            report, saved = result.report, result.saved

        for line in iter_problem_lines(report.warnings):
            self.stdout.write(gettext("Warning: %(problem)s") % {"problem": line})
        if report.warning_count > len(report.warnings):
            self.stdout.write(
                gettext("… and %(count)s more warnings.") % {"count": _n(report.warning_count - len(report.warnings))}
            )
        if not report.is_valid:
            for line in iter_problem_lines(report.errors):
                self.stdout.write(line)
            if report.error_count > len(report.errors):
                self.stdout.write(
                    gettext("… and %(count)s more problems.") % {"count": _n(report.error_count - len(report.errors))}
                )
            raise CommandError(self._refusal(report), returncode=1)

        self._summary(report, dry_run=dry_run, saved=saved)

    def _progress(self, template: str):
        """A progress callback that prints at most every few seconds, and only for long files."""
        last = [0.0]

        def progress(done: int, total: int) -> None:
            if total < PROGRESS_FROM_ROWS:
                return
            now = time.monotonic()
            if done < total and now - last[0] < PROGRESS_STEP_SECONDS:
                return
            last[0] = now
            percent = int(done * 100 / total) if total else 100
            self.stderr.write(template % {"done": _n(done), "total": _n(total), "percent": percent})

        return progress

    @staticmethod
    def _refusal(report: CheckReport) -> str:
        if report.invalid_rows:
            return ngettext(
                "Nothing was saved because %(count)s row has errors.",
                "Nothing was saved because %(count)s rows have errors.",
                report.invalid_rows,
            ) % {"count": _n(report.invalid_rows)}
        return gettext("Nothing was saved because the file cannot be read as a register (see above).")

    def _summary(self, report: CheckReport, *, dry_run: bool, saved: bool) -> None:
        counts = {key: _n(value) for key, value in report.summary().items() if isinstance(value, int)}
        if dry_run:
            self.stdout.write(
                gettext("The file is valid: %(rows)s rows. Importing it would:") % {"rows": counts["rows"]}
            )
        else:
            self.stdout.write(gettext("Imported %(rows)s rows:") % {"rows": counts["rows"]})
        self.stdout.write(
            gettext("  products: %(new_products)s new, %(updated_products)s updated, %(unchanged_products)s unchanged")
            % counts
        )
        self.stdout.write(
            gettext("  cooperatives: %(new_cooperatives)s new, %(updated_cooperatives)s completed") % counts
        )
        self.stdout.write(
            gettext("  certificates: %(new_certificates)s new, %(updated_certificates)s updated") % counts
        )
        if saved:
            self.stdout.write(
                gettext("New products are drafts: they appear publicly only after the trade department approves them.")
            )
