"""One-time passwords: issuing, checking, and delivery through a pluggable sender.

OTPs are 6 digits from `secrets`, stored as an HMAC keyed with a server secret (a plain
hash of a 6-digit number is reversed by trying all million), and compared in constant time.
Each is single use, expires, and counts every wrong try. Codes are kept per audience
(mibo.core.tokens: STAFF or PATIENT), so one surface's request never cancels the other's.

A code is issued and checked alike for every phone, whether or not anyone may sign in with it
(the surface delivers it only to those who may): so nothing in the answers, attempts left
included, tells a stranger whether a number belongs to someone.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import secrets
import sys
from dataclasses import dataclass
from typing import Protocol

from mibo.core import db
from mibo.core.config import Settings
from mibo.core.errors import ApiError
from mibo.core.logs import log_event, mask_phone

log = logging.getLogger(__name__)

# A new OTP replaces any earlier unused one for the same phone, audience and purpose.
RETIRE_OPEN_OTPS = """
UPDATE otp_requests SET is_used = TRUE WHERE phone = %s AND audience = %s AND purpose = %s AND NOT is_used
"""

INSERT_OTP = """
INSERT INTO otp_requests (phone, audience, otp_hash, purpose, expires_at)
VALUES (%s, %s, %s, %s, now() + make_interval(mins => %s))
"""

LATEST_OPEN_OTP_FOR_UPDATE = """
SELECT id, otp_hash, attempts_count, expires_at <= now() AS expired
FROM otp_requests
WHERE phone = %s AND audience = %s AND purpose = %s AND NOT is_used
ORDER BY created_at DESC, id DESC
LIMIT 1
FOR UPDATE
"""

RECORD_OTP_ATTEMPT = """
UPDATE otp_requests SET attempts_count = attempts_count + 1, is_used = %(matched)s WHERE id = %(id)s
"""


def generate_otp() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def hash_otp(secret: str, phone: str, otp: str) -> str:
    return hmac.new(secret.encode(), f"{phone}|{otp}".encode(), hashlib.sha256).hexdigest()


def verify_otp(secret: str, phone: str, otp: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_otp(secret, phone, otp), stored_hash)


async def issue(cur, settings: Settings, phone: str, audience: str, purpose: str = "LOGIN") -> str:
    """Store a new code for the phone (replacing any open one) and return it, for delivery after commit."""
    code = generate_otp()
    await db.execute(cur, RETIRE_OPEN_OTPS, (phone, audience, purpose))
    await db.execute(cur, INSERT_OTP, (phone, audience, hash_otp(settings.otp_hash_secret, phone, code), purpose,
                                       settings.otp_expiry_minutes))
    return code


class OtpCheck(enum.Enum):
    MATCHED = "matched"
    MISSING = "missing"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"
    WRONG = "wrong"


@dataclass(frozen=True)
class Attempt:
    check: OtpCheck
    remaining: int  # wrong tries left on the code

    @property
    def matched(self) -> bool:
        return self.check is OtpCheck.MATCHED

    def refusal(self, account_found: bool = True) -> ApiError | None:
        """The 401 to answer (after the commit, so that a wrong try is still counted), or None when
        the code matched an account. A match without an account answers like a wrong code."""
        if self.check is OtpCheck.EXPIRED:
            return ApiError.unauthorized("The OTP has expired; request a new one", "OTP_EXPIRED")
        if self.check is OtpCheck.EXHAUSTED:
            return ApiError.unauthorized("Too many wrong attempts; request a new OTP", "OTP_ATTEMPTS_EXCEEDED")
        if not (self.matched and account_found):
            return ApiError(401, "OTP_INVALID", "The OTP is incorrect", {"remainingAttempts": self.remaining})
        return None


async def consume(cur, settings: Settings, phone: str, code: str, audience: str, purpose: str = "LOGIN") -> Attempt:
    """Check a submitted code against the phone's latest open one, counting the try. Single use."""
    row = await db.fetch_one(cur, LATEST_OPEN_OTP_FOR_UPDATE, (phone, audience, purpose))
    if row is None:
        return Attempt(OtpCheck.MISSING, 0)
    if row["expired"]:
        return Attempt(OtpCheck.EXPIRED, 0)
    if row["attempts_count"] >= settings.otp_max_attempts:
        return Attempt(OtpCheck.EXHAUSTED, 0)
    matched = verify_otp(settings.otp_hash_secret, phone, code, row["otp_hash"])
    await db.execute(cur, RECORD_OTP_ATTEMPT, {"id": row["id"], "matched": matched})
    remaining = max(settings.otp_max_attempts - row["attempts_count"] - 1, 0)
    return Attempt(OtpCheck.MATCHED if matched else OtpCheck.WRONG, remaining)


class OtpSender(Protocol):
    async def send(self, phone: str, otp: str, expiry_minutes: int) -> None: ...


class ConsoleOtpSender:
    """Fallback delivery when no WhatsApp sender is configured.

    In development the code is printed to the console (stderr, never the JSON logs) so a
    developer can log in; elsewhere only the masked phone is logged and the code is not shown.
    """

    def __init__(self, show_code: bool, stream=None):
        self.show_code = show_code
        self.stream = stream

    async def send(self, phone: str, otp: str, expiry_minutes: int) -> None:
        if self.show_code:
            print(f"[dev OTP] {otp} for {mask_phone(phone)} (valid {expiry_minutes} min)",
                  file=self.stream or sys.stderr, flush=True)
        log_event(log, logging.INFO, "otp issued", phone=mask_phone(phone), channel="console")
