"""The read-only, versioned coverage API for other provincial systems (docs/coverage.md).

GET /api/v1/coverage/?as_of=YYYY-MM-DD&period_start=YYYY-MM-DD&by=commune|district|cooperative|stars|group|kind|channel
    &format=json|csv

Aggregate figures only (counts and shares), never buyer data. Version 1 keeps its fields: new
fields may be added, none renamed or removed; a breaking change gets /api/v2/.
"""

import datetime

from django.http import HttpResponse, JsonResponse
from django.utils import timezone, translation
from django.views.decorators.http import require_GET

from . import coverage

API_VERSION = "1"


def _error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message, "version": API_VERSION}, status=status)


def _day(value: str | None, name: str) -> datetime.date | None:
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} must be a date written YYYY-MM-DD, not {value!r}") from None


@require_GET
def coverage_v1(request):
    try:
        as_of = _day(request.GET.get("as_of"), "as_of")
        period_start = _day(request.GET.get("period_start"), "period_start")
    except ValueError as error:
        return _error(str(error))
    if as_of and as_of > timezone.localdate():
        return _error("as_of is in the future")
    if as_of and period_start and period_start > as_of:
        return _error("period_start is after as_of")
    by = request.GET.get("by") or None
    if by is not None and by not in coverage.BREAKDOWNS:
        return _error(f"by must be one of {', '.join(coverage.BREAKDOWNS)}")
    fmt = request.GET.get("format", "json")
    if fmt not in ("json", "csv"):
        return _error("format must be json or csv")
    language = request.GET.get("lang", "vi") if request.GET.get("lang") in ("vi", "en") else "vi"
    with translation.override(language):
        table = coverage.coverage_table(as_of=as_of, period_start=period_start, by=by)
        if fmt == "csv":
            response = HttpResponse(coverage.table_to_csv(table), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'inline; filename="ocop-coverage-{table.as_of:%Y%m%d}.csv"'
        else:
            response = JsonResponse(
                {"version": API_VERSION, **table.as_dict(), "generated_at": table.generated_at.isoformat()},
                json_dumps_params={"ensure_ascii": False},
            )
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"  # read-only public aggregates
    return response
