"""The panel's profile picture upload (row 29): multipart, the type told by the file's content, a size
limit, stored under UPLOAD_DIR and served with a year's caching; its URL becomes profilePictureUrl."""

from __future__ import annotations

import hashlib

import aiohttp
import pytest

from mibo.api.app import init_app
from tests.legacy_support import BASE, data_of, refusal_of

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(200)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(200)
WEBP = b"RIFF\x00\x01\x00\x00WEBPVP8 " + bytes(200)
GIF = b"GIF89a" + bytes(200)


@pytest.fixture
async def api(aiohttp_client, settings, pool, redis, tmp_path):
    app = init_app(settings.replace(upload_dir=str(tmp_path), profile_picture_max_bytes=4096), pool=pool, redis=redis)
    return await aiohttp_client(app)


def picture_form(data: bytes, field: str = "profilePicture", filename: str = "me.png",
                 content_type: str = "image/png") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field(field, data, filename=filename, content_type=content_type)
    return form


async def upload(api, user, form):
    return await api.post(f"{BASE}/upload/clinician-profile", data=form, headers=user.headers)


@pytest.mark.parametrize(("data", "media_type", "extension"),
                         [(PNG, "image/png", "png"), (JPEG, "image/jpeg", "jpg"), (WEBP, "image/webp", "webp")])
async def test_each_accepted_type_is_stored_by_its_content_and_served_cached(api, factory, tmp_path, data,
                                                                              media_type, extension):
    admin = await factory.staff("ADMIN")
    # The name and the declared type are the client's word; the content decides.
    resp = await upload(api, admin, picture_form(data, filename="photo.bin", content_type="application/octet-stream"))
    assert resp.status == 201, await resp.text()
    answer = data_of(await resp.json())
    name = f"{hashlib.sha256(data).hexdigest()}.{extension}"
    assert answer["imageUrl"] == f"http://{api.server.host}:{api.server.port}/api/uploads/clinicians/{name}"
    assert answer["format"] == media_type and answer["size"] == len(data)
    assert (tmp_path / "clinicians" / name).read_bytes() == data
    served = await api.get(f"/api/uploads/clinicians/{name}")  # no token: an <img> sends none
    assert served.status == 200 and await served.read() == data
    assert served.headers["Content-Type"] == media_type
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert served.headers["X-Content-Type-Options"] == "nosniff"


async def test_anything_but_the_three_types_is_refused_naming_the_field(api, factory, tmp_path):
    admin = await factory.staff("ADMIN")
    for data in (GIF, b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"not an image at all"):
        resp = await upload(api, admin, picture_form(data))
        assert resp.status == 400
        code, _, details = refusal_of(await resp.json())
        assert code == "VALIDATION_ERROR" and details == {"profilePicture": ["Must be a PNG, JPEG or WebP image."]}
    assert not (tmp_path / "clinicians").exists() or not list((tmp_path / "clinicians").iterdir())


async def test_a_picture_over_the_limit_is_refused_and_not_stored(api, factory, tmp_path):
    admin = await factory.staff("ADMIN")
    resp = await upload(api, admin, picture_form(PNG + bytes(5000)))
    assert resp.status == 413
    assert refusal_of(await resp.json())[0] == "PAYLOAD_TOO_LARGE"
    assert not (tmp_path / "clinicians").exists() or not list((tmp_path / "clinicians").iterdir())


async def test_the_wrong_field_an_empty_file_or_json_are_refused(api, factory):
    admin = await factory.staff("ADMIN")
    resp = await upload(api, admin, picture_form(PNG, field="file"))
    assert resp.status == 400 and "profilePicture" in refusal_of(await resp.json())[2]
    resp = await upload(api, admin, picture_form(b""))
    assert resp.status == 400 and refusal_of(await resp.json())[2] == {"profilePicture": ["The file is empty."]}
    resp = await api.post(f"{BASE}/upload/clinician-profile", json={"profilePicture": "x"}, headers=admin.headers)
    assert resp.status == 415


async def test_a_part_header_the_parser_refuses_is_a_400_naming_the_field(api, factory):
    admin = await factory.staff("ADMIN")
    # A part name of control and non-ASCII bytes: aiohttp's header parser refuses it (it was a 500).
    body = (b'--b\r\nContent-Disposition: form-data; name="\x18\xf1\x87\xa8\x96"\r\n\r\nnull\r\n--b--\r\n')
    resp = await api.post(f"{BASE}/upload/clinician-profile", data=body,
                          headers={**admin.headers, "Content-Type": "multipart/form-data; boundary=b"})
    assert resp.status == 400, await resp.text()
    code, _, details = refusal_of(await resp.json())
    assert code == "VALIDATION_ERROR" and details == {"profilePicture": ["The multipart body could not be read."]}


async def test_only_those_who_change_clinicians_upload(api, factory):
    centre = await factory.centre()
    desk = await factory.staff("FRONT_DESK", [centre])
    manager = await factory.staff("CENTRE_MANAGER", [centre])
    assert (await upload(api, desk, picture_form(PNG))).status == 403
    assert (await upload(api, manager, picture_form(PNG))).status == 201
    assert (await api.post(f"{BASE}/upload/clinician-profile", data=picture_form(PNG))).status == 401


async def test_the_uploaded_url_becomes_the_clinicians_picture_in_both_apis(api, factory):
    centre = await factory.centre()
    admin = await factory.staff("ADMIN")
    clinician = await factory.staff("CLINICIAN", [centre])
    url = data_of(await (await upload(api, admin, picture_form(PNG))).json())["imageUrl"]
    resp = await api.put(f"{BASE}/users/clinicians/{clinician.clinician_id}", json={"profilePictureUrl": url},
                         headers=admin.headers)
    assert resp.status == 200 and data_of(await resp.json())["profilePictureUrl"] == url
    rows = (await (await api.get("/api/clinicians", headers=admin.headers)).json())["data"]
    assert rows[0]["profilePictureUrl"] == url
    resp = await api.put(f"{BASE}/users/clinicians/{clinician.clinician_id}",
                         json={"profilePictureUrl": "javascript:alert(1)"}, headers=admin.headers)
    assert resp.status == 400 and "profilePictureUrl" in refusal_of(await resp.json())[2]


async def test_an_unknown_picture_is_a_404(api):
    resp = await api.get(f"/api/uploads/clinicians/{'0' * 64}.png")
    assert resp.status == 404
    assert (await api.get("/api/uploads/clinicians/../../etc/passwd")).status == 404
