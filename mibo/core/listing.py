"""Paginated lists whose filters vary: SQLAlchemy Core picks the page, plain SQL shapes the rows.

A list is one query: the Core statement (`page_of_ids`) selects the matching ids, fixed SQL takes
one page of them with the total (`count(*) OVER ()`) and each row's position, and a fixed SQL
template joins what a row shows onto that page. Only an empty page past the end needs a second
query for the total.

The total counts at most COUNT_CAP + 1 matching rows (more than COUNT_CAP reads as "more than
COUNT_CAP"), so a list's cost follows the page asked for, not the years of history behind it: an
unfiltered appointment list counted every row of the table before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from mibo.core import db, tables


def like_pattern(text: str) -> str:
    """`%text%` for ILIKE, with the user's own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


COUNT_CAP = 10_000


def _sort_key(expression) -> tuple[Any, bool]:
    """(the expression sorted on, whether descending)."""
    if isinstance(expression, UnaryExpression) and expression.modifier is operators.desc_op:
        return expression.element, True
    if isinstance(expression, UnaryExpression) and expression.modifier is operators.asc_op:
        return expression.element, False
    return expression, False


@dataclass(frozen=True)
class Page:
    """One page of a list: the select of the matching rows (ordered, capped) and where the page lies."""

    matching: Select
    descending: tuple[bool, ...]  # per sort key k0, k1, ...
    limit: int
    offset: int


def page_of_ids(id_column, where: list, order_by: tuple, limit: int, offset: int, from_=None) -> Page:
    """The ids of one page, each with the (capped) total of matching rows and its place in the order.

    `from_` is the FROM clause (a join) when the filters or the order need more than the id's table.
    """
    keys = [_sort_key(expression) for expression in order_by]
    matching = select(id_column.label("id"), *(key.label(f"k{i}") for i, (key, _) in enumerate(keys)))
    if from_ is not None:
        matching = matching.select_from(from_)
    for condition in where:
        matching = matching.where(condition)
    matching = matching.order_by(*order_by).limit(max(COUNT_CAP + 1, offset + limit))
    return Page(matching, tuple(descending for _, descending in keys), limit, offset)


def _page_sql(page: Page) -> tuple[str, dict[str, Any]]:
    # Only the filtered part is composed with Core; the window over it is fixed SQL, because
    # compiling it with Core too doubled the compile time, which is most of a short list's own time.
    matching_sql, params = tables.compile_query(page.matching)
    order = ", ".join(f"k{i} DESC" if descending else f"k{i}" for i, descending in enumerate(page.descending))
    sql = (f"SELECT id, count(*) OVER () AS total, row_number() OVER (ORDER BY {order}) AS ord"
           f" FROM ({matching_sql}) AS matching ORDER BY {order} LIMIT {int(page.limit)} OFFSET {int(page.offset)}")
    return sql, params


async def fetch_page(
    cur, page: Page, detail_sql: str, offset: int, params: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Run `detail_sql` (which reads the CTE `page`) for one page; returns (rows, total).

    `detail_sql` must select `page.total` as `total` and order by `page.ord`.
    """
    page_sql, page_params = _page_sql(page)
    rows = await db.fetch_all(
        cur, f"WITH page AS ({page_sql}) {detail_sql}", {**page_params, **(params or {})}
    )
    if rows:
        total = rows[0]["total"]
    elif offset > 0:
        # Past the end of the list: the window count saw no rows, so count them on their own.
        matching_sql, matching_params = tables.compile_query(page.matching)
        total = await db.fetch_value(cur, f"SELECT count(*) FROM ({matching_sql}) AS matching", matching_params)
    else:
        total = 0
    for row in rows:
        row.pop("total", None)
    return rows, total
