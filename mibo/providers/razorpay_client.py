"""Razorpay through the official client: orders, payment links (create, fetch, cancel), refunds, and
signature checks.

Synchronous, like the library: call it from a worker thread. Network failures and HTTP errors
arrive as ProviderError (see http.ProviderSession); retryable ones are retried a few times here.
"""

from __future__ import annotations

import json

import razorpay
import requests
from razorpay.errors import SignatureVerificationError

from mibo.core.config import Settings
from mibo.providers.errors import ProviderError
from mibo.providers.http import CONNECT_TIMEOUT, ProviderSession
from mibo.providers.retry import with_retries
from mibo.providers.urls import razorpay_base_url

PROVIDER = "razorpay"


class RazorpayClient:
    """One instance per worker thread (requests sessions are not shared across threads)."""

    def __init__(self, settings: Settings, *, timeout: float | tuple[float, float] | None = None,
                 attempts: int = 3, backoff: float = 0.5):
        self._client = razorpay.Client(
            session=ProviderSession(PROVIDER, call_timeout(settings) if timeout is None else timeout),
            auth=(settings.razorpay_key_id, settings.razorpay_key_secret),
            base_url=razorpay_base_url(settings),
        )
        self._attempts = attempts
        self._backoff = backoff

    def close(self) -> None:
        """Close pooled connections (or use contextlib.closing)."""
        self._client.session.close()

    def _call(self, call):
        return with_retries(lambda: _readable(call), attempts=self._attempts, backoff=self._backoff)

    def create_order(self, amount_paise: int, currency: str, receipt: str, notes: dict | None = None) -> dict:
        data = {"amount": amount_paise, "currency": currency, "receipt": receipt, "notes": notes or {}}
        return self._call(lambda: self._client.order.create(data))

    def find_order(self, receipt: str) -> dict | None:
        """The order made with our `receipt`, if any (to resolve a create whose answer was lost)."""
        items = self._call(lambda: self._client.order.all({"receipt": receipt}))["items"]
        return items[0] if items else None

    def fetch_order(self, order_id: str) -> dict:
        return self._call(lambda: self._client.order.fetch(order_id))

    def fetch_order_payments(self, order_id: str) -> list[dict]:
        """The payments attempted on an order (the `items` of Razorpay's collection)."""
        return self._call(lambda: self._client.order.payments(order_id))["items"]

    def create_payment_link(self, amount_paise: int, currency: str, description: str, customer: dict,
                            expire_by: int, reference_id: str, notes: dict | None = None) -> dict:
        """Create a link, or return the one already made for `reference_id`.

        Razorpay refuses a second link with the same reference_id. So when a retry (ours after a
        timeout, or the actor's) is refused, the first attempt did create the link: fetch it
        instead of failing, and the caller gets exactly one link per reference (check its
        status: an old link for the same reference may have expired meanwhile).
        We send the link over WhatsApp ourselves, hence no SMS/e-mail from Razorpay.
        """
        data = {
            "amount": amount_paise, "currency": currency, "description": description,
            "customer": {"name": customer["name"], "contact": customer["contact"]},
            "expire_by": expire_by, "reference_id": reference_id, "notes": notes or {},
            "notify": {"sms": False, "email": False}, "reminder_enable": False,
        }
        try:
            return self._call(lambda: self._client.payment_link.create(data))
        except ProviderError as exc:
            if exc.status != 400:
                raise
            existing = self._call(lambda: self._client.payment_link.all({"reference_id": reference_id}))
            links = existing.get("payment_links") or []
            if not links:
                raise
            return links[0]

    def fetch_payment_link(self, payment_link_id: str) -> dict:
        return self._call(lambda: self._client.payment_link.fetch(payment_link_id))

    def cancel_payment_link(self, payment_link_id: str) -> dict:
        """Cancel an unpaid link; Razorpay answers 400 for one already paid, cancelled or expired
        (including one our own retry cancelled a moment ago): fetch it to see which."""
        return self._call(lambda: self._client.payment_link.cancel(payment_link_id))

    def find_refund(self, payment_id: str, receipt: str) -> dict | None:
        """The refund of a payment made with our `receipt` (or carrying it in its notes), if any:
        a refund whose create timed out may have been made all the same."""
        refunds = self._call(lambda: self._client.payment.fetch_multiple_refund(payment_id, {"count": 100}))
        return next((r for r in refunds.get("items") or []
                     if r.get("receipt") == receipt or _notes(r).get("receipt") == receipt), None)

    def create_refund(self, payment_id: str, amount_paise: int, receipt: str, notes: dict) -> dict:
        """Refund part or all of a captured payment, at normal speed.

        One attempt only: Razorpay has no idempotency key for refunds, so a second POST after a
        lost answer could refund twice. The caller looks for the refund (find_refund) before it
        tries again, and waits until a call that timed out cannot still be running.
        """
        data = {"amount": amount_paise, "speed": "normal", "receipt": receipt, "notes": {**notes, "receipt": receipt}}
        return _readable(lambda: self._client.payment.refund(payment_id, data))

    def fetch_refund(self, refund_id: str) -> dict:
        return self._call(lambda: self._client.refund.fetch(refund_id))

    def verify_payment_signature(self, order_id: str, payment_id: str, signature: str) -> bool:
        """Checkout's signature: HMAC-SHA256 hex of "order_id|payment_id" with the KEY secret."""
        params = {"razorpay_order_id": order_id, "razorpay_payment_id": payment_id,
                  "razorpay_signature": signature}
        return _verified(lambda: self._client.utility.verify_payment_signature(params))


def call_timeout(settings: Settings) -> tuple[float, float]:
    """(connect, read) timeouts of one Razorpay call: RAZORPAY_TIMEOUT to read, and as long to
    connect, up to 5 s."""
    read = float(settings.razorpay_timeout)
    return min(CONNECT_TIMEOUT, read), read


def refusal_reason(exc: ProviderError) -> str:
    """Razorpay's own description of why it refused a request (its error body), else the error."""
    try:
        description = json.loads(exc.message)["error"]["description"]
    except (ValueError, KeyError, TypeError):
        return exc.message
    return description if isinstance(description, str) and description else exc.message


def _notes(entity: dict) -> dict:
    # Razorpay sends empty notes as [] rather than {}.
    notes = entity.get("notes")
    return notes if isinstance(notes, dict) else {}


def verify_webhook_signature(raw_body: bytes, signature: str | None, webhook_secret: str) -> bool:
    """X-Razorpay-Signature: HMAC-SHA256 hex of the raw body with the WEBHOOK secret.

    Verify the bytes exactly as received: re-serialising parsed JSON changes spacing and key
    order and would reject genuine events (or, worse, accept forged ones that parse the same).
    The library wants str, and UTF-8 decoding is lossless for any body it could have signed.
    """
    if not signature or not webhook_secret:
        return False
    try:
        body = raw_body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _verified(lambda: razorpay.Utility().verify_webhook_signature(body, signature, webhook_secret))


def _readable(call):
    # HTTP failures are already ProviderErrors (see ProviderSession); what is left is a 2xx whose
    # body is not JSON. The request may have taken effect, so it is not worth retrying blindly.
    try:
        return call()
    except requests.RequestException as exc:
        raise ProviderError(PROVIDER, f"unreadable response: {type(exc).__name__}", retryable=False) from exc


def _verified(check) -> bool:
    # The library raises on a mismatch; hmac.compare_digest raises TypeError on non-ASCII input.
    try:
        return bool(check())
    except (SignatureVerificationError, TypeError):
        return False
