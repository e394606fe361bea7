"""One-time passwords: generation, hashing, and delivery through a pluggable sender.

OTPs are 6 digits from `secrets`, stored as an HMAC keyed with a server secret (a plain
hash of a 6-digit number is reversed by trying all million), and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import sys
from typing import Protocol

from mibo.core.logs import log_event, mask_phone

log = logging.getLogger(__name__)


def generate_otp() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def hash_otp(secret: str, phone: str, otp: str) -> str:
    return hmac.new(secret.encode(), f"{phone}|{otp}".encode(), hashlib.sha256).hexdigest()


def verify_otp(secret: str, phone: str, otp: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_otp(secret, phone, otp), stored_hash)


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
