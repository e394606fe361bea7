"""Google Calendar events with a Meet conference, through googleapiclient and a service account.

Synchronous, like the library; httplib2 objects are not thread-safe, so one GoogleCalendar per
worker thread. Errors arrive as ProviderError; 5xx/429 and transport failures are retried by the
library's own `num_retries` (exponential backoff) before that.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

import google_auth_httplib2
import httplib2
from google.auth import crypt
from google.auth import exceptions as auth_exceptions
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from mibo.core.config import Settings
from mibo.providers.errors import ProviderError, is_retryable_status
from mibo.providers.urls import google_calendar_endpoint, google_token_uri

PROVIDER = "google"
SCOPES = ["https://www.googleapis.com/auth/calendar.events"]


class GoogleCalendar:
    def __init__(self, settings: Settings, *, timeout: float = 15.0, num_retries: int = 3):
        credentials = service_account.Credentials(
            crypt.RSASigner.from_string(_private_key(settings)),
            settings.google_service_account_email,
            google_token_uri(settings),
            scopes=SCOPES,
        )
        # `http=` rather than `credentials=`: it is the only way to give httplib2 a timeout,
        # and the token request goes through the same Http, so it gets the timeout too.
        http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=timeout))
        self._service = build("calendar", "v3", http=http, static_discovery=True,
                              client_options={"api_endpoint": google_calendar_endpoint(settings)})
        self._events = self._service.events()
        self._num_retries = num_retries

    def close(self) -> None:
        """Close pooled connections (or use contextlib.closing)."""
        self._service.close()

    def create_meet_event(self, calendar_id: str, request_id: str, summary: str, start_utc: datetime,
                          end_utc: datetime, attendees: Sequence[str] = ()) -> tuple[str, str]:
        """Create the event with a Meet conference once per `request_id`; returns (event_id, meet_link).

        Two keys make a retry harmless. The conference's `requestId` makes Google reuse the
        conference, and the event `id`, derived from the same request_id, makes a second insert
        fail with 409, which we answer by reading the event the first attempt made. Guests get no
        Google e-mails (sendUpdates=none): patients hear from us over WhatsApp.
        """
        event_id = event_id_for(request_id)
        body = {
            "id": event_id,
            "summary": summary,
            "start": {"dateTime": _utc_iso(start_utc), "timeZone": "UTC"},
            "end": {"dateTime": _utc_iso(end_utc), "timeZone": "UTC"},
            "attendees": [{"email": email} for email in attendees],
            "conferenceData": {"createRequest": {"requestId": request_id,
                                                 "conferenceSolutionKey": {"type": "hangoutsMeet"}}},
        }
        try:
            event = self._execute(self._events.insert(calendarId=calendar_id, body=body,
                                                      conferenceDataVersion=1, sendUpdates="none"))
        except ProviderError as exc:
            if exc.status != 409:
                raise
            event = self._execute(self._events.get(calendarId=calendar_id, eventId=event_id))
        link = meet_link(event)
        if not link:
            # Google may still be creating the conference; the retry will find it via the 409 path.
            raise ProviderError(PROVIDER, "Meet conference not ready yet", retryable=True)
        return event["id"], link

    def update_event_time(self, calendar_id: str, event_id: str, start_utc: datetime,
                          end_utc: datetime) -> None:
        """Move the event; the conference and its link stay the same."""
        body = {"start": {"dateTime": _utc_iso(start_utc), "timeZone": "UTC"},
                "end": {"dateTime": _utc_iso(end_utc), "timeZone": "UTC"}}
        self._execute(self._events.patch(calendarId=calendar_id, eventId=event_id, body=body,
                                         sendUpdates="none"))

    def cancel_event(self, calendar_id: str, event_id: str) -> None:
        """Delete the event. Already gone (404, or 410 for deleted) counts as done, so retries are safe."""
        try:
            self._execute(self._events.delete(calendarId=calendar_id, eventId=event_id, sendUpdates="none"))
        except ProviderError as exc:
            if exc.status not in (404, 410):
                raise

    def _execute(self, request) -> dict:
        try:
            return request.execute(num_retries=self._num_retries)
        except HttpError as exc:
            status = exc.resp.status
            raise ProviderError(PROVIDER, exc.reason or "error", status,
                                retryable=is_retryable_status(status)) from exc
        except auth_exceptions.RefreshError as exc:
            raise ProviderError(PROVIDER, "token request refused",
                                retryable=bool(getattr(exc, "retryable", False))) from exc
        except (OSError, httplib2.HttpLib2Error, auth_exceptions.TransportError) as exc:
            # OSError covers socket timeouts and refused connections.
            raise ProviderError(PROVIDER, f"{type(exc).__name__}", retryable=True) from exc


def event_id_for(request_id: str) -> str:
    """A valid Calendar event id (base32hex characters, 5-1024 long) that is stable per request_id."""
    return hashlib.sha256(request_id.encode()).hexdigest()


def meet_link(event: dict) -> str | None:
    if event.get("hangoutLink"):
        return event["hangoutLink"]
    entry_points = (event.get("conferenceData") or {}).get("entryPoints") or []
    return next((ep["uri"] for ep in entry_points if ep.get("entryPointType") == "video"), None)


def _utc_iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("calendar times must be timezone-aware")
    return moment.astimezone(UTC).isoformat()


def _private_key(settings: Settings) -> str:
    if settings.google_private_key:
        return settings.google_private_key
    if settings.google_token_uri:
        # A real token endpoint would refuse a made-up key: fail clearly instead.
        raise ProviderError(PROVIDER, "GOOGLE_PRIVATE_KEY is not configured", retryable=False)
    return _ephemeral_private_key()


@functools.cache
def _ephemeral_private_key() -> str:
    """Sandbox only (no GOOGLE_PRIVATE_KEY nor GOOGLE_TOKEN_URI): a throwaway key, so that flow runs offline.

    The sandbox does not check the signature; real Google would refuse it. Made once per process
    because RSA key generation takes tens of milliseconds.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()
