"""The Gallabox WhatsApp client against the sandbox: request shape, retries, timeouts."""

from __future__ import annotations

import asyncio

import pytest

from mibo.providers.errors import ProviderError
from mibo.providers.gallabox import GallaboxClient


def fast_client(sandbox, settings, **options) -> GallaboxClient:
    options = {"timeout": 2.0, "attempts": 3, "backoff": 0.01, **options}
    return sandbox.keep(GallaboxClient(settings, **options))


async def send(client, **overrides):
    args = {"phone": "+919876543210", "name": "Asha", "template_name": "appointment_confirmed",
            "body_values": {"date": "5 June 2026, 10:00 am", "amount": 1500}, **overrides}
    return await asyncio.to_thread(client.send_template, **args)


async def test_send_template_posts_gallabox_shape(sandbox):
    message_id = await send(fast_client(sandbox, sandbox.settings))
    (recorded,) = await sandbox.requests("gallabox")
    assert (recorded["method"], recorded["path"], recorded["status"]) == (
        "POST", "/gallabox/devapi/messages/whatsapp", 202)
    assert recorded["body"] == {
        "channelId": sandbox.settings.gallabox_channel_id,
        "channelType": "whatsapp",
        "recipient": {"name": "Asha", "phone": "919876543210"},
        "whatsapp": {"type": "template", "template": {
            "templateName": "appointment_confirmed",
            "bodyValues": {"date": "5 June 2026, 10:00 am", "amount": "1500"}}},
    }
    assert recorded["headers"]["apiKey"] == sandbox.settings.gallabox_api_key
    assert recorded["headers"]["apiSecret"] == "***"  # sent (else 401), but never recorded
    assert recorded["headers"]["Content-Type"] == "application/json"
    (delivered,) = sandbox.state.messages
    assert delivered["id"] == message_id


async def test_server_error_then_success_delivers_one_message(sandbox):
    await sandbox.fault("gallabox", status=500, count=1)
    message_id = await send(fast_client(sandbox, sandbox.settings))
    assert [r["status"] for r in await sandbox.requests("gallabox")] == [500, 202]
    assert [m["id"] for m in sandbox.state.messages] == [message_id]


async def test_client_error_is_not_retried(sandbox):
    await sandbox.fault("gallabox", status=400, count=1)
    with pytest.raises(ProviderError) as caught:
        await send(fast_client(sandbox, sandbox.settings))
    assert (caught.value.provider, caught.value.status, caught.value.retryable) == ("gallabox", 400, False)
    assert len(await sandbox.requests("gallabox")) == 1
    assert sandbox.state.messages == []


async def test_sandbox_refuses_bad_body_and_credentials(sandbox):
    with pytest.raises(ProviderError) as caught:
        await send(fast_client(sandbox, sandbox.settings), template_name="")
    assert (caught.value.status, caught.value.retryable) == (400, False)
    assert "templateName" in caught.value.message
    with pytest.raises(ProviderError) as caught:
        await send(fast_client(sandbox, sandbox.settings.replace(gallabox_api_secret="wrong")))
    assert (caught.value.status, caught.value.retryable) == (401, False)
    assert sandbox.state.messages == []


async def test_phone_must_be_international_digits(sandbox):
    with pytest.raises(ProviderError) as caught:
        await send(fast_client(sandbox, sandbox.settings), phone="+91 98765 43210")
    assert caught.value.retryable is False
    assert await sandbox.requests("gallabox") == []


async def test_timeout_is_retried_and_then_retryable(sandbox):
    await sandbox.fault("gallabox", delay=1.0, count=2)
    with pytest.raises(ProviderError) as caught:
        await send(fast_client(sandbox, sandbox.settings, timeout=0.3, attempts=2))
    assert (caught.value.retryable, caught.value.status) == (True, None)
    assert len(await sandbox.requests("gallabox")) == 2


async def test_connection_refused_is_retryable(sandbox):
    nowhere = sandbox.settings.replace(gallabox_base_url="http://127.0.0.1:9")
    client = fast_client(sandbox, nowhere, attempts=1)
    with pytest.raises(ProviderError) as caught:
        await send(client)
    assert caught.value.retryable is True
