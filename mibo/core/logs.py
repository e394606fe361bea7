"""Structured JSON logs with the request id, and masking of personal data.

Every record passes through `mask()`: phone numbers keep only their last 4 digits, e-mails
their first letter and domain. Secrets (passwords, OTPs, tokens) are never passed to a logger
in the first place; the masking is the net under that rule, not the rule.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

_base_record_factory = logging.getLogRecordFactory()


def _record_with_request_id(*args, **kwargs) -> logging.LogRecord:
    # Taken when the record is made, not when it is formatted (which may be later, elsewhere).
    record = _base_record_factory(*args, **kwargs)
    record.request_id = request_id_var.get()
    return record


logging.setLogRecordFactory(_record_with_request_id)

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
# Digit runs, optionally with +, spaces or dashes inside; masked when they hold 10+ digits
# (Indian mobiles with or without +91), so dates and small ids stay readable.
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d \t-]{8,}\d(?!\w)")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


# A date, with its time of day if any (2026-12-01, 2026-12-01 06:47:09.123, 2026-12-01T06:47Z): its
# digits and dashes would otherwise run into the phone pattern ("2026-12-01 06" holds ten digits).
_DATETIME = re.compile(r"(?<![\d+-])(?:19|20)\d{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
                       r"(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:[.,]\d+)?)?)?(?![\d-])")


def mask(text: str) -> str:
    text = _JWT.sub("[token]", text)
    text = _BEARER.sub(r"\1[token]", text)
    text = _EMAIL.sub(r"\1***@\2", text)
    # Phones are masked between the dates, never across one.
    kept = [match.span() for match in _DATETIME.finditer(text)]
    if not kept:
        return _PHONE.sub(_mask_digits, text)
    parts, start = [], 0
    for begin, end in kept:
        parts += [_PHONE.sub(_mask_digits, text[start:begin]), text[begin:end]]
        start = end
    return "".join(parts) + _PHONE.sub(_mask_digits, text[start:])


def _mask_digits(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "******" + digits[-4:] if len(digits) >= 10 else match.group(0)


def mask_phone(phone: str | None) -> str:
    return "" if not phone else "******" + phone[-4:]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": mask(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["requestId"] = request_id
        for key, value in getattr(record, "fields", {}).items():
            entry[key] = mask(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc"] = mask(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def setup_logging(level: str = "INFO", stream=None) -> None:
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's own access log is replaced by ours (it would print query strings unmasked).
    logging.getLogger("aiohttp.access").disabled = True


def log_event(logger: logging.Logger, level: int, message: str, **fields) -> None:
    """Log a message with structured fields (all masked on output)."""
    logger.log(level, message, extra={"fields": fields})
