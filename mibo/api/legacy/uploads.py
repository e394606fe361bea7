"""The panel's picture upload at /upload/clinician-profile: the file checked and stored by
mibo.api.uploads, answered with the URL the panel then saves as the clinician's profilePictureUrl.
Uploading is for those who may change a clinician's profile."""

from __future__ import annotations

from aiohttp import web

from mibo.api import uploads
from mibo.api.access import requires
from mibo.api.apidoc import MAX_UPLOAD_CEILING, MULTIPART
from mibo.api.keys import SETTINGS
from mibo.api.legacy.contract import panel_route
from mibo.api.legacy.envelope import ok
from schemas.legacy.uploads import PICTURE_FIELD, UPLOAD_BODY, UploadedPictureSchema


@requires("clinicians.update")
@panel_route("Upload a clinician's profile picture (PNG, JPEG or WebP, at most PROFILE_PICTURE_MAX_BYTES)",
             translates=None, raw_body=UPLOAD_BODY, body_media_type=MULTIPART, max_body=MAX_UPLOAD_CEILING,
             response=UploadedPictureSchema, status=201, errors=(400, 413, 415))
async def upload_clinician_picture(request: web.Request) -> web.Response:
    data = await uploads.read_picture(request, PICTURE_FIELD)
    picture = await uploads.store_picture(request.app[SETTINGS], data)
    answer = {"image_url": uploads.picture_url(request, picture), "size": picture.size, "format": picture.media_type}
    return ok(UploadedPictureSchema().dump(answer), message="Image uploaded successfully", status=201)


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/api/upload/clinician-profile", upload_clinician_picture)
