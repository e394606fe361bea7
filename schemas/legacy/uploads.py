"""The panel's picture upload: a multipart body with the file in `profilePicture`, answered with the
URL it then sends as a clinician's profilePictureUrl."""

from marshmallow import fields

from schemas.legacy.base import PanelSchema

PICTURE_FIELD = "profilePicture"

UPLOAD_BODY = {
    "type": "object",
    "required": [PICTURE_FIELD],
    "properties": {PICTURE_FIELD: {"type": "string", "format": "binary",
                                   "description": "A PNG, JPEG or WebP image (told by its content)"}},
}


class UploadedPictureSchema(PanelSchema):
    image_url = fields.String(data_key="imageUrl")
    size = fields.Integer()
    format = fields.String(metadata={"description": "The media type found in the file's content"})
