import datetime
import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from marketplace_sync import coverage


def _date(value: str) -> datetime.date:
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    raise CommandError(_("“%(value)s” is not a date. Write it as YYYY-MM-DD or dd/mm/yyyy.") % {"value": value})


class Command(BaseCommand):
    help = "Coverage of OCOP products on e-commerce, the same figures as the dashboard (docs/coverage.md)."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=_date, help="The reporting date (default today).")
        parser.add_argument("--period-start", type=_date, help="Start of the sales period (default 1 January).")
        parser.add_argument("--by", choices=coverage.BREAKDOWNS, help="Break the figures down.")
        parser.add_argument("--format", choices=("table", "json", "csv", "xlsx"), default="table")
        parser.add_argument("--output", "-o", help="Write to this file (required for xlsx unless piped).")
        parser.add_argument("--language", choices=("vi", "en"), default="vi")

    def handle(self, *args, as_of=None, period_start=None, by=None, format="table", output=None, language="vi", **o):
        if as_of and period_start and period_start > as_of:
            raise CommandError(_("The period cannot start after the reporting date."))
        with translation.override(language):
            table = coverage.coverage_table(as_of=as_of, period_start=period_start, by=by)
            if format == "json":
                data = (json.dumps(table.as_dict(), ensure_ascii=False, indent=2) + "\n").encode()
            elif format == "csv":
                data = coverage.table_to_csv(table)
            elif format == "xlsx":
                data = coverage.table_to_xlsx(table)
            else:
                data = self._text(table).encode()
        if output:
            with open(output, "wb") as handle:
                handle.write(data)
            self.stderr.write(_("Written to %(path)s.") % {"path": output})
        elif format == "xlsx":
            if sys.stdout.isatty():
                raise CommandError(_("An XLSX file cannot be shown here: add --output FILE.xlsx."))
            sys.stdout.buffer.write(data)  # piped to a file
            sys.stdout.flush()
        else:
            self.stdout.write(data.decode("utf-8"), ending="")

    def _text(self, table: coverage.Table) -> str:
        def pct(value):
            return "—" if value is None else f"{value:.1f}%"

        lines = [
            _("OCOP products on e-commerce on %(date)s (sales period from %(start)s)")
            % {"date": table.as_of.strftime("%d/%m/%Y"), "start": table.period_start.strftime("%d/%m/%Y")},
            "",
            f"{'':42} {_('certified'):>10} {_('listed'):>14} {_('with sales'):>14} {_('in period'):>14}",
        ]
        for row in [*table.rows, table.total]:
            lines.append(
                f"{row.label[:42]:42} {row.certified:>10} {row.listed:>6} {pct(row.listed_pct):>7} "
                f"{row.with_sales:>6} {pct(row.with_sales_pct):>7} "
                f"{row.with_sales_in_period:>6} {pct(row.with_sales_in_period_pct):>7}"
            )
        if table.validity_unknown:
            lines += [
                "",
                _("%(n)d products have a certificate with neither date nor year: not counted until it is known.")
                % {"n": table.validity_unknown},
            ]
        return "\n".join(lines) + "\n"
