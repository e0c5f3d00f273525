"""Accept a product photo from a phone safely, normalise it, or refuse it with a clear message.

Cooperatives upload straight from cheap phones, often over weak connections; whatever we keep
is later shown on the site and sent to marketplaces. Why each rule exists:

- Size limit before decoding: an oversized upload costs memory and time before we could refuse
  it anyway, so we stop reading at the limit (``.size`` can be missing or wrong).
- Formats decided by content (JPEG, PNG, WebP, HEIC/HEIF): the name and content type are chosen
  by the sender; every extra decoder is extra attack surface and HEIC is what iPhones produce.
- Pixel limit read from the header: a few KB can claim billions of pixels (decompression bomb);
  we refuse before allocating, with our own limit rather than Pillow's process-wide one.
- Full decode with truncated images refused: a half-uploaded photo would otherwise be stored
  with a grey band and published.
- EXIF orientation applied, then the minimum size checked: phones store photos sideways and
  rely on a tag; the size that matters to a marketplace is the upright one, and refusing early
  tells the seller the real cause instead of a marketplace rejection weeks later.
- Colour converted to sRGB and transparency laid on white: browsers and marketplaces assume
  untagged sRGB, CMYK JPEGs look wrong or fail there, and transparent areas turn black in JPEG.
- Stored as a full-resolution JPEG with no metadata: one format for every consumer; renditions
  are made later on demand; phone EXIF/XMP carries the farm's GPS position and the owner's
  phone details, which must not be published.
- Messages are lazily translated English msgids with named placeholders, each saying what is
  wrong and what to do, because the reader is often a first-time seller.
"""

import contextlib
import io
import os
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pillow_heif
from django.conf import settings
from django.core.files import File
from django.utils import formats
from django.utils.functional import Promise, lazy
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageCms, ImageOps

__all__ = ["ImageRejected", "PreparedImage", "prepare_product_photo"]

pillow_heif.register_heif_opener()

DEFAULT_MAX_BYTES = 15 * 1024 * 1024
DEFAULT_MIN_SIDE = 500
DEFAULT_MAX_PIXELS = 50_000_000

# Only these decoders ever see an upload; "JPEG" also yields MPO, which many phones write.
_OPEN_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
# libjpeg cannot write a side longer than this, so such a picture could never be stored.
_JPEG_MAX_SIDE = 65_500
_JPEG_QUALITY = 88
_READ_CHUNK = 64 * 1024
_MAX_NAME_LENGTH = 80
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"})
# What a truncated or corrupt file makes the decoders raise (pillow-heif raises ValueError).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error)
# Pillow warns, or raises under `-W error`, on its own global limit; either means "too big".
_PILLOW_BOMB = (Image.DecompressionBombError, Image.DecompressionBombWarning)

MSG_TOO_LARGE = _(
    "This photo is larger than %(limit_mb)s MB, the most we accept. Please take the photo again at a lower "
    "resolution (you can choose it in your phone's camera settings), or let your browser shrink it before uploading."
)
MSG_NOT_AN_IMAGE = _(
    "This file is not a photo we can use. Please choose a picture in JPEG, PNG, WebP or HEIC format, "
    "for example a photo taken with your phone's camera."
)
MSG_TOO_MANY_PIXELS = _(
    "This picture has too many pixels for us to process: the most we accept is %(limit_mp)s megapixels. "
    "Please take the photo again at a lower resolution, or shrink it before uploading."
)
MSG_SIDE_TOO_LONG = _(
    "This picture is too wide or too tall for us to process (%(width)s×%(height)s pixels; no side may be "
    "longer than %(max_side)s pixels). Please crop or shrink it before uploading."
)
MSG_DAMAGED = _(
    "This photo file is damaged or was not uploaded completely. Please try uploading it again; "
    "if that does not help, take the photo again."
)
MSG_TOO_SMALL = _(
    "This photo is only %(width)s×%(height)s pixels; it must be at least %(min_side)s×%(min_side)s, "
    "because marketplaces refuse smaller pictures. Please upload the original photo from your phone's camera, "
    "not a thumbnail, a screenshot or a picture saved from a chat."
)


class ImageRejected(Exception):
    """Raised with a user-facing message (a lazily translated string) and a short code."""

    def __init__(self, message: str | Promise, code: str) -> None:
        super().__init__(message, code)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return str(self.message)


@dataclass(frozen=True)
class PreparedImage:
    """A photo ready to store: an upright sRGB JPEG at full resolution, without metadata."""

    content: bytes = field(repr=False)
    width: int
    height: int
    format: str
    filename: str


def prepare_product_photo(upload: File, *, max_bytes: int | None = None, min_side: int | None = None) -> PreparedImage:
    """Return the upload as a normalised JPEG, or raise ImageRejected saying why and what to do."""
    if max_bytes is None:
        max_bytes = getattr(settings, "CATALOG_PHOTO_MAX_BYTES", DEFAULT_MAX_BYTES)
    if min_side is None:
        min_side = getattr(settings, "CATALOG_PHOTO_MIN_SIDE", DEFAULT_MIN_SIDE)
    max_pixels = getattr(settings, "CATALOG_PHOTO_MAX_PIXELS", DEFAULT_MAX_PIXELS)

    buffer = _read_limited(upload, max_bytes)
    image = _open_checked(buffer, max_pixels)
    _decode(image, max_pixels)
    # The pixels are decoded; the encoded bytes are no longer needed.
    buffer.close()
    del buffer

    # A broken EXIF block must not cost the seller a good photo: keep it as stored.
    with contextlib.suppress(*_DECODE_ERRORS, KeyError, TypeError):
        ImageOps.exif_transpose(image, in_place=True)
    _check_min_size(image, min_side)

    # One reassigned name, so each intermediate copy can be freed as soon as the next exists.
    icc_profile = image.info.get("icc_profile")
    image = _to_basic_mode(image)
    image = _flatten_on_white(image)
    image = _to_srgb(image, icc_profile)
    if image.mode != "RGB":
        # CMYK without a usable profile, greyscale: Pillow already undid Adobe's inverted CMYK.
        image = image.convert("RGB")

    content = _encode_jpeg(image)
    return PreparedImage(
        content=content,
        width=image.width,
        height=image.height,
        format="JPEG",
        filename=_safe_filename(getattr(upload, "name", None)),
    )


def _read_limited(upload: File, max_bytes: int) -> io.BytesIO:
    declared = getattr(upload, "size", None)
    if declared is not None and declared > max_bytes:
        raise _too_large(max_bytes)
    buffer = io.BytesIO()
    for chunk in _chunks(upload):
        buffer.write(chunk)
        # The declared size may be missing or wrong; never hold more than the limit.
        if buffer.tell() > max_bytes:
            raise _too_large(max_bytes)
    if buffer.tell() == 0:
        # Nothing arrived: on a weak connection this is a failed upload, not a wrong file.
        raise ImageRejected(MSG_DAMAGED, "damaged")
    buffer.seek(0)
    return buffer


def _chunks(upload: File) -> Iterable[bytes]:
    if hasattr(upload, "chunks"):
        return upload.chunks(chunk_size=_READ_CHUNK)
    with contextlib.suppress(AttributeError, OSError):
        upload.seek(0)
    return _read_chunks(upload)


def _read_chunks(upload: File) -> Iterator[bytes]:
    while chunk := upload.read(_READ_CHUNK):
        yield chunk


def _open_checked(buffer: io.BytesIO, max_pixels: int) -> Image.Image:
    """Identify the file and check its claimed dimensions; no pixel data is decoded here."""
    try:
        image = Image.open(buffer, formats=_OPEN_FORMATS)
    except _PILLOW_BOMB as exc:
        raise _too_many_pixels(max_pixels) from exc
    except Image.UnidentifiedImageError as exc:
        # A file that starts like one of our formats but cannot be read was cut off or corrupted.
        buffer.seek(0)
        if _looks_like_accepted_format(buffer.read(16)):
            raise ImageRejected(MSG_DAMAGED, "damaged") from exc
        raise ImageRejected(MSG_NOT_AN_IMAGE, "not_an_image") from exc
    except _DECODE_ERRORS as exc:
        raise ImageRejected(MSG_DAMAGED, "damaged") from exc

    width, height = image.size
    if width * height > max_pixels:
        raise _too_many_pixels(max_pixels)
    if max(width, height) > _JPEG_MAX_SIDE:
        raise ImageRejected(
            _lazy_format(MSG_SIDE_TOO_LONG, width=width, height=height, max_side=_JPEG_MAX_SIDE), "too_many_pixels"
        )
    return image


def _decode(image: Image.Image, max_pixels: int) -> None:
    # Decoding fully (with ImageFile.LOAD_TRUNCATED_IMAGES left False) is what detects truncation.
    try:
        image.load()
    except _PILLOW_BOMB as exc:
        raise _too_many_pixels(max_pixels) from exc
    except _DECODE_ERRORS as exc:
        raise ImageRejected(MSG_DAMAGED, "damaged") from exc


def _looks_like_accepted_format(head: bytes) -> bool:
    return (
        head.startswith(b"\xff\xd8\xff")
        or head.startswith(b"\x89PNG\r\n\x1a\n")
        or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
        or (head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS)
    )


def _check_min_size(image: Image.Image, min_side: int) -> None:
    width, height = image.size
    if width < min_side or height < min_side:
        raise ImageRejected(_lazy_format(MSG_TOO_SMALL, width=width, height=height, min_side=min_side), "too_small")


def _to_basic_mode(image: Image.Image) -> Image.Image:
    """Bring exotic modes to L, RGB, RGBA or CMYK, keeping any transparency."""
    if image.mode.startswith("I"):
        # 16-bit greyscale PNG: a plain convert would clip every value above 255 to white.
        image.info.pop("transparency", None)
        return image.convert("I").point(lambda value: value * (1 / 256), "L")
    if image.mode == "1":
        return image.convert("L")
    if image.mode in ("P", "PA"):
        return image.convert("RGBA" if image.has_transparency_data else "RGB")
    if image.mode not in ("L", "LA", "RGB", "RGBA", "CMYK"):
        return image.convert("RGB")
    return image


def _flatten_on_white(image: Image.Image) -> Image.Image:
    # JPEG has no alpha: dropping it would show whatever colour hid under transparent pixels
    # (often black); product shots on white are what marketplaces expect.
    if not image.has_transparency_data:
        return image
    if image.mode != "RGBA":
        image = image.convert("RGBA")
    background = Image.new("RGB", image.size, (255, 255, 255))
    background.paste(image, mask=image)
    return background


def _to_srgb(image: Image.Image, icc_profile: bytes | None) -> Image.Image:
    """Convert with the embedded profile when it describes these pixels and is not already sRGB."""
    if not icc_profile:
        return image
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        colour_space = profile.profile.xcolor_space.strip()
        description = ImageCms.getProfileDescription(profile)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        # An unreadable profile is common in edited files; the pixels are still worth keeping.
        return image
    # After flattening a greyscale image has become RGB, so a grey profile no longer applies.
    if (colour_space, image.mode) not in {("RGB", "RGB"), ("CMYK", "CMYK"), ("GRAY", "L")}:
        return image
    if colour_space == "RGB" and "srgb" in description.lower():
        return image
    try:
        return ImageCms.profileToProfile(
            image,
            profile,
            ImageCms.createProfile("sRGB"),
            # Keeps in-gamut product colours exact; the usual choice for photos.
            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
            outputMode="RGB",
            flags=ImageCms.Flags.BLACKPOINTCOMPENSATION,
        )
    except ImageCms.PyCMSError:
        return image


def _encode_jpeg(image: Image.Image) -> bytes:
    # Pillow copies EXIF, XMP, comments and profiles along in `info`; none may reach the file.
    image.info = {}
    output = io.BytesIO()
    image.save(output, "JPEG", quality=_JPEG_QUALITY, optimize=True, progressive=True)
    return output.getvalue()


def _safe_filename(name: str | None) -> str:
    # Browsers may send a full client path ("C:\fakepath\..."); only the last part is the name.
    base = re.split(r"[\\/]", name or "")[-1]
    stem = os.path.splitext(base)[0]
    # "đ" has no ASCII decomposition, so slugify would drop it ("Đặc sản" -> "ac-san").
    stem = stem.replace("đ", "d").replace("Đ", "D")
    slug = slugify(stem)[:_MAX_NAME_LENGTH].strip("-_")
    return f"{slug or 'photo'}.jpg"


def _too_large(max_bytes: int) -> ImageRejected:
    return ImageRejected(_lazy_format(MSG_TOO_LARGE, limit_mb=max_bytes / (1024 * 1024)), "too_large")


def _too_many_pixels(max_pixels: int) -> ImageRejected:
    return ImageRejected(_lazy_format(MSG_TOO_MANY_PIXELS, limit_mp=max_pixels / 1_000_000), "too_many_pixels")


def _lazy_format(message: Promise, **params: int | float) -> Promise:
    """Fill the placeholders only when the message is shown, in the language active then.

    `lazy_string % params` would translate immediately, in whatever language the upload
    request happened to run.
    """

    def render() -> str:
        return str(message) % {name: _format_number(value) for name, value in params.items()}

    return lazy(render, str)()


def _format_number(value: int | float) -> str:
    if isinstance(value, int):
        return str(value)
    # Two significant digits are plenty for a limit, and 15.0 should read "15".
    value = round(value) if value >= 10 else float(f"{value:.2g}")
    if float(value).is_integer():
        return str(int(value))
    return formats.number_format(value)
