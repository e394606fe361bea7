"""What every actor does around its own work: it runs one outbox step, and closes it when it is done.

The database, not Redis, says whether a step is done. The actor's work commits the step's effect
(a message sent, a link stored, the next step queued) and returns; only then is the step's outbox
row closed. A worker that dies, or a Redis that loses the message, leaves the row open, and the
relay publishes it again when its lease runs out; the work is idempotent, so running it again
changes nothing that was already done. A failure that retrying cannot mend (a bug, a malformed
message) closes the row with the error, so that it is not published forever; a transient one
leaves it open for Dramatiq's retries and, after them, for the lease.

While a step runs, every log record it makes carries the actor's name and its arguments under
their names (notificationId, appointmentId, ...), also in lines that did not pass them.
"""

from __future__ import annotations

import contextvars
import logging

from jobs import context
from jobs.options import is_transient
from mibo.core import db, outbox

log = logging.getLogger(__name__)

FIELDS: contextvars.ContextVar[dict | None] = contextvars.ContextVar("step_fields", default=None)


def step(name: str, work, fields: tuple[str, ...] = ()):
    """`work` as the step `name`: its log fields set, its outbox row closed once it returns."""

    async def run(*args):
        token = FIELDS.set({"actor": name, **dict(zip(fields, args, strict=False))})
        try:
            result = await work(*args)
        except Exception as exc:
            if not is_transient(exc) and name not in outbox.PUBLISHED_DIRECTLY:
                await close(name, args, f"given up: {type(exc).__name__}: {exc}"[:500])
            raise
        finally:
            FIELDS.reset(token)
        if name not in outbox.PUBLISHED_DIRECTLY:
            await close(name, args)
        return result

    run.__name__, run.__qualname__, run.__doc__ = work.__name__, work.__qualname__, work.__doc__
    return run


async def close(name: str, args, error: str | None = None) -> None:
    async with db.connection(await context.pool()) as cur:
        await outbox.complete(cur, name, args, error)


def add_step_fields(record: logging.LogRecord) -> bool:
    """Logging filter: the running step's fields, under those the record brings itself."""
    fields = FIELDS.get()
    if fields:
        record.fields = {**fields, **getattr(record, "fields", {})}
    return True
