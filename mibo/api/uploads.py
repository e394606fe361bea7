"""Uploaded files: clinicians' profile pictures, stored under UPLOAD_DIR and served with caching.

A picture is read from a multipart body up to PROFILE_PICTURE_MAX_BYTES (a declared length over it
is refused before a byte is read), its type is decided by its first bytes (PNG, JPEG or WebP; the
name and the Content-Type the client gives are not trusted), and it is stored under the SHA-256 of
its content: a name that never changes meaning, so GET /api/uploads/clinicians/{name} is cached for a
year, and the same picture uploaded twice is one file. Files are written off the event loop, to a
temporary name first, so that a half-written file is never served.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from mibo.api.access import public
from mibo.api.apidoc import documented
from mibo.api.http import too_large
from mibo.api.keys import SETTINGS
from mibo.core.config import Settings
from mibo.core.errors import ApiError

# First bytes of each accepted type and its extension (WebP is RIFF....WEBP, checked apart).
SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpg"))
MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
PICTURES = "clinicians"
PICTURE_NAME = r"[0-9a-f]{64}\.(?:png|jpg|webp)"
MULTIPART_OVERHEAD = 16 * 1024  # boundaries and part headers around the file
YEAR = 365 * 86400


@dataclass(frozen=True)
class StoredPicture:
    name: str
    size: int
    media_type: str


def picture_type(data: bytes) -> str | None:
    """'png', 'jpg' or 'webp' from the file's own first bytes; None for anything else."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return next((extension for magic, extension in SIGNATURES if data.startswith(magic)), None)


def pictures_dir(settings: Settings) -> Path:
    return Path(settings.upload_dir) / PICTURES


def _write(directory: Path, name: str, data: bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    if target.exists():  # the same content: the same file
        return
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


async def read_picture(request: web.Request, field: str) -> bytes:
    """The file of multipart part `field`, the body's only part: 415 for another body, 413 past the
    limit, 400 naming the field when it is missing, empty or not a PNG, JPEG or WebP image."""
    limit = request.app[SETTINGS].profile_picture_max_bytes
    if request.content_type != "multipart/form-data":
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", f"Send the picture as multipart/form-data, in `{field}`")
    if request.content_length is not None and request.content_length > limit + MULTIPART_OVERHEAD:
        raise too_large(limit)
    try:
        reader = await request.multipart()
        part = await reader.next()
        if part is None or getattr(part, "name", None) != field:
            raise ApiError.validation({field: ["Send the picture in this multipart field."]})
        chunks, size = [], 0
        while chunk := await part.read_chunk():
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            chunks.append(chunk)
        if await reader.next() is not None:
            raise ApiError.validation({"_schema": [f"Send only the `{field}` part."]})
    except (ValueError, HttpProcessingError):  # a malformed multipart body (boundary, a part's headers)
        raise ApiError.validation({field: ["The multipart body could not be read."]}) from None
    data = b"".join(chunks)
    if not data:
        raise ApiError.validation({field: ["The file is empty."]})
    if picture_type(data) is None:
        raise ApiError.validation({field: ["Must be a PNG, JPEG or WebP image."]})
    return data


async def store_picture(settings: Settings, data: bytes) -> StoredPicture:
    extension = picture_type(data)
    name = f"{hashlib.sha256(data).hexdigest()}.{extension}"
    await asyncio.get_running_loop().run_in_executor(None, _write, pictures_dir(settings), name, data)
    return StoredPicture(name, len(data), MEDIA_TYPES[extension])


def picture_url(request: web.Request, picture: StoredPicture) -> str:
    """The picture's absolute URL: the pages showing it live on another origin."""
    origin = request.app[SETTINGS].public_url or str(request.url.origin())
    return f"{origin}/api/uploads/{PICTURES}/{picture.name}"


@public
@documented("A clinician's profile picture", tags=("Uploads",), text_response="*/*", errors=(404,),
            description="Cached for a year: a picture's name is the SHA-256 of its content.")
async def clinician_picture(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    path = pictures_dir(request.app[SETTINGS]) / name
    if not await asyncio.get_running_loop().run_in_executor(None, path.is_file):
        raise ApiError.not_found("picture")
    return web.FileResponse(path, headers={
        "Cache-Control": f"public, max-age={YEAR}, immutable",
        "Content-Type": MEDIA_TYPES[name.rsplit(".", 1)[1]],
    })


def setup_routes(app: web.Application) -> None:
    app.router.add_get(f"/api/uploads/{PICTURES}/{{name:{PICTURE_NAME}}}", clinician_picture)
