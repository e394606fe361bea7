"""What the sandbox holds (requests, faults, provider entities), and helpers its modules share."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import string
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web

from mibo.core.config import Settings


@dataclass
class Fault:
    provider: str
    status: int | None
    remaining: int
    delay: float
    path: str
    method: str = ""  # "" for any


@dataclass
class RefundBehaviour:
    """What the fake Razorpay does with each new refund: settle it `delay` seconds after making it
    ("processed" or "failed"), or leave it pending until /_sandbox/razorpay/settle-refund; its
    webhooks go to `webhook_url` (when set)."""

    outcome: str = "processed"
    delay: float = 0.0
    webhook_url: str | None = None


@dataclass
class SandboxState:
    settings: Settings
    requests: list[dict] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    orders: dict[str, dict] = field(default_factory=dict)
    payments: dict[str, dict] = field(default_factory=dict)
    links: dict[str, dict] = field(default_factory=dict)
    refunds: dict[str, dict] = field(default_factory=dict)
    refund_behaviour: RefundBehaviour = field(default_factory=RefundBehaviour)
    webhooks: list[dict] = field(default_factory=list)  # every webhook built, delivered or not
    tasks: set = field(default_factory=set)  # webhooks still to be sent
    tokens: set[str] = field(default_factory=set)
    events: dict[tuple[str, str], dict] = field(default_factory=dict)
    conferences: dict[str, dict] = field(default_factory=dict)

    def take_fault(self, provider: str, path: str, method: str) -> Fault | None:
        for fault in self.faults:
            if fault.provider == provider and path.startswith(fault.path) and fault.method in ("", method):
                fault.remaining -= 1
                if not fault.remaining:
                    self.faults.remove(fault)
                return fault
        return None


SANDBOX = web.AppKey("sandbox", SandboxState)


def unix_now() -> int:
    return int(time.time())


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


def random_id(prefix: str, length: int = 14) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def same_secret(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


async def json_object(request: web.Request) -> dict | None:
    try:
        data = json.loads(await request.read() or b"null")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def find_entity(entities: dict[str, dict], entity_id) -> dict | None:
    return entities.get(entity_id) if isinstance(entity_id, str) else None


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def control_error(message: str, status: int = 400) -> web.Response:
    """Errors of the /_sandbox/ control endpoints themselves."""
    return web.json_response({"error": message}, status=status)

