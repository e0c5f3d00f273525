"""Public product search in Vietnamese, with or without diacritics, on PostgreSQL and SQLite.

Each product keeps two normalised columns (`search_name`, `search_text`): lower-case, without
diacritics (đ → d), punctuation-free, NFC and NFD alike (cooperatives.text.match_key), with a
leading space so that `contains(" " + term)` means "a word starting with term" — "ong" does not
hit "dương", and "mat o" already finds "mật ong" as one types. The query goes through the same
function, and the rank is a plain CASE, so both databases give the same results in the same
order. On PostgreSQL trigram GIN indexes serve the `contains` (see ../shared/docs/search.md for
what was tried: Wagtail's own search neither folds diacritics everywhere nor ranks well here).
"""

from __future__ import annotations

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from cooperatives.text import match_key

MAX_TERMS = 8


def search_key(text: str | None) -> str:
    key = match_key(text or "")
    return f" {key}" if key else ""


def search_fields_for(product, *, category=None) -> dict[str, str]:
    """The normalised columns of a product: its name; its description and OCOP group. Pass
    `category` when writing in bulk, so that no product costs a query for it."""
    if category is None and product.category_id:
        category = product.category
    parts = [product.description or ""]
    if category is not None:
        parts += [category.name, category.subgroup]
    return {"search_name": search_key(product.name), "search_text": search_key(" ".join(parts))}


def search_products(products: QuerySet, query: str) -> QuerySet:
    """Products whose name or text has every term of `query` as the start of a word, best
    first: name starting with the whole query, name containing it, every term in the name,
    the whole query in the text, then the rest. An empty query finds nothing."""
    normalised = match_key(query or "")
    terms = normalised.split()[:MAX_TERMS]
    if not terms:
        return products.none()
    match = Q()
    in_name = Q()
    for term in terms:
        match &= Q(search_name__contains=f" {term}") | Q(search_text__contains=f" {term}")
        in_name &= Q(search_name__contains=f" {term}")
    phrase = " ".join(terms)
    rank = Case(
        When(search_name__startswith=f" {phrase}", then=Value(4)),
        When(search_name__contains=f" {phrase}", then=Value(3)),
        When(in_name, then=Value(2)),
        When(search_text__contains=f" {phrase}", then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    return products.filter(match).annotate(search_rank=rank).order_by("-search_rank", "name", "pk")
