"""prepare_product_photo: real files made with Pillow / pillow-heif, checked the way a seller sees them."""

import functools
import io
import itertools
import struct
import warnings
import zlib

import pillow_heif
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.functional import Promise
from django.utils.translation import override
from PIL import ExifTags, Image, ImageCms

from catalog.images import ImageRejected, PreparedImage, prepare_product_photo

RED = (255, 0, 0)
WHITE = (255, 255, 255)


# --- helpers ---------------------------------------------------------------------------------


def upload(content: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def encode(image: Image.Image, format: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **params)
    return buffer.getvalue()


def opened(prepared: PreparedImage) -> Image.Image:
    image = Image.open(io.BytesIO(prepared.content))
    image.load()
    return image


def rejection(content: bytes, name: str = "photo.jpg", **kwargs) -> ImageRejected:
    with pytest.raises(ImageRejected) as caught:
        prepare_product_photo(upload(content, name), **kwargs)
    return caught.value


def english(rejected: ImageRejected) -> str:
    with override("en"):
        return str(rejected.message)


def close(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


@functools.cache
def plain_jpeg() -> bytes:
    return encode(Image.new("RGB", (600, 600), (30, 120, 60)), "JPEG")


def png_claiming_size(width: int, height: int) -> bytes:
    """A ~70-byte PNG whose header claims width×height: what a decompression bomb looks like."""
    data = bytearray(encode(Image.new("1", (1, 1)), "PNG"))
    # Signature (8) + chunk length (4) + b"IHDR" (4), then width and height; CRC after the 13 data bytes.
    struct.pack_into(">II", data, 16, width, height)
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def s15fixed16(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def swapped_rgb_profile() -> bytes:
    """sRGB with the red and blue primaries exchanged, renamed so it is not taken for sRGB.

    Pixels that are pure red in this profile are pure blue in sRGB: only a real conversion
    through the embedded profile turns them blue.
    """
    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    (count,) = struct.unpack_from(">I", data, 128)
    entries = {}
    for index in range(count):
        signature, offset, size = struct.unpack_from(">4sII", data, 132 + 12 * index)
        entries[signature] = (index, offset, size)
    red_index, red_offset, red_size = entries[b"rXYZ"]
    blue_index, blue_offset, blue_size = entries[b"bXYZ"]
    struct.pack_into(">4sII", data, 132 + 12 * red_index, b"rXYZ", blue_offset, blue_size)
    struct.pack_into(">4sII", data, 132 + 12 * blue_index, b"bXYZ", red_offset, red_size)
    data[84:100] = bytes(16)  # profile ID (MD5) no longer matches; zero means "not computed"
    return bytes(data).replace("sRGB".encode("utf-16-be"), "Swap".encode("utf-16-be"))


def cmyk_profile_turning_red_into_green() -> bytes:
    """A minimal ICC v2 CMYK profile: the naive CMYK→RGB colours with the sign of a* flipped.

    A plain CMYK→RGB conversion makes (0, 255, 255, 0) red; through this profile it is green,
    so the colour of the result shows whether the embedded profile was used.
    """
    corners = list(itertools.product((0, 1), repeat=4))  # the CLUT grid, first channel slowest
    naive = Image.new("RGB", (len(corners), 1))
    for x, (c, m, y, k) in enumerate(corners):
        naive.putpixel((x, 0), tuple(round(255 * (1 - v) * (1 - k)) for v in (c, m, y)))
    lab = ImageCms.profileToProfile(
        naive, ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), outputMode="LAB"
    )
    # getpixel gives a*/b* offset by 128; ICC v2 16-bit Lab is L*·0xFF00/100 and (a*+128)·256.
    clut = b"".join(
        struct.pack(">3H", round(L * 0xFF00 / 255), min(256 - a, 255) * 256, b * 256)
        for L, a, b in (lab.getpixel((x, 0)) for x in range(len(corners)))
    )
    identity = b"".join(s15fixed16(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    linear = struct.pack(">2H", 0, 0xFFFF)
    lut = b"mft2" + bytes(4) + bytes([4, 3, 2, 0]) + identity + struct.pack(">HH", 2, 2)
    lut += linear * 4 + clut + linear * 3
    d50 = s15fixed16(0.9642) + s15fixed16(1.0) + s15fixed16(0.8249)
    tags = [(b"wtpt", b"XYZ " + bytes(4) + d50), (b"A2B0", lut)]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, tag in tags:
        table += struct.pack(">4sII", signature, offset + len(body), len(tag))
        body += tag + bytes(-len(tag) % 4)
    header = struct.pack(">I4sI4s4s4s", offset + len(body), b"lcms", 0x02100000, b"prtr", b"CMYK", b"Lab ")
    header += bytes(12) + b"acsp" + bytes(28) + d50
    return header.ljust(128, b"\0") + struct.pack(">I", len(tags)) + table + body


# --- colour ----------------------------------------------------------------------------------


def test_cmyk_jpeg_becomes_an_rgb_jpeg_with_its_colours():
    image = Image.new("CMYK", (600, 600), (0, 0, 0, 0))  # white paper
    image.paste((0, 255, 255, 0), (100, 100, 300, 300))  # pure red ink
    prepared = prepare_product_photo(upload(encode(image, "JPEG", quality=95)))

    result = opened(prepared)
    assert (prepared.format, result.format, result.mode) == ("JPEG", "JPEG", "RGB")
    red = result.getpixel((200, 200))
    assert red[0] > 230 and red[1] < 30 and red[2] < 30, red  # not inverted (cyan), not muddy
    assert close(result.getpixel((500, 500)), WHITE)


def test_cmyk_jpeg_is_converted_through_its_embedded_profile():
    image = Image.new("CMYK", (600, 600), (0, 255, 255, 0))
    content = encode(image, "JPEG", quality=95, icc_profile=cmyk_profile_turning_red_into_green())

    r, g, b = opened(prepare_product_photo(upload(content))).getpixel((300, 300))
    assert g > 100 and g > r + 60 and g > b + 60, (r, g, b)


def test_wide_gamut_rgb_photo_is_converted_to_srgb():
    content = encode(Image.new("RGB", (600, 600), RED), "JPEG", quality=95, icc_profile=swapped_rgb_profile())

    r, g, b = opened(prepare_product_photo(upload(content))).getpixel((300, 300))
    assert b > 200 and r < 40 and g < 40, (r, g, b)


def test_srgb_photo_keeps_its_colours():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    content = encode(Image.new("RGB", (600, 600), (200, 120, 40)), "JPEG", quality=95, icc_profile=srgb)

    assert close(opened(prepare_product_photo(upload(content))).getpixel((300, 300)), (200, 120, 40), 4)


def test_profile_that_does_not_describe_the_pixels_is_ignored():
    # An RGB profile inside a CMYK file: converting with it is impossible, the photo is still good.
    image = Image.new("CMYK", (600, 600), (0, 255, 255, 0))
    content = encode(image, "JPEG", quality=95, icc_profile=swapped_rgb_profile())

    r, g, b = opened(prepare_product_photo(upload(content))).getpixel((300, 300))
    assert r > 230 and g < 30 and b < 30, (r, g, b)


def test_sixteen_bit_greyscale_png_is_not_washed_out_to_white():
    content = encode(Image.new("I;16", (600, 600), 32768), "PNG")  # mid grey at 16 bits

    result = opened(prepare_product_photo(upload(content, "scan.png")))
    assert close(result.getpixel((300, 300)), (128, 128, 128), 3)


def _transparent(mode: str) -> tuple[Image.Image, dict]:
    """600×600, transparent except an opaque coloured square at (200..400)."""
    if mode == "P":
        image = Image.new("P", (600, 600), 0)
        image.putpalette([0, 0, 0, 200, 30, 30] + [0, 0, 0] * 254)
        image.paste(1, (200, 200, 400, 400))
        return image, {"transparency": 0}
    if mode == "RGB":  # a tRNS colour key: black means transparent
        image = Image.new("RGB", (600, 600), (0, 0, 0))
        image.paste((200, 30, 30), (200, 200, 400, 400))
        return image, {"transparency": (0, 0, 0)}
    if mode == "LA":
        image = Image.new("LA", (600, 600), (0, 0))
        image.paste((90, 255), (200, 200, 400, 400))
        return image, {}
    image = Image.new("RGBA", (600, 600), (0, 0, 0, 0))
    image.paste((200, 30, 30, 255), (200, 200, 400, 400))
    return image, {}


@pytest.mark.parametrize(
    ("mode", "format", "square"),
    [
        ("RGBA", "PNG", (200, 30, 30)),
        ("LA", "PNG", (90, 90, 90)),
        ("P", "PNG", (200, 30, 30)),
        ("RGB", "PNG", (200, 30, 30)),
        ("RGBA", "WEBP", (200, 30, 30)),
    ],
)
def test_transparent_background_becomes_white_and_the_product_keeps_its_colour(mode, format, square):
    image, params = _transparent(mode)
    if format == "WEBP":
        params["lossless"] = True
    prepared = prepare_product_photo(upload(encode(image, format, **params), f"logo.{format.lower()}"))

    result = opened(prepared)
    assert result.mode == "RGB"
    assert close(result.getpixel((2, 2)), WHITE, 3)  # not black
    assert close(result.getpixel((597, 597)), WHITE, 3)
    assert close(result.getpixel((300, 300)), square, 6)


# --- orientation and privacy -----------------------------------------------------------------


@pytest.mark.parametrize("format", ["JPEG", "HEIF"])
def test_sideways_phone_photo_is_turned_upright_and_loses_its_metadata(format):
    # Stored 800×600 with a red top-left corner; orientation 6 says "turn 90° clockwise to view".
    image = Image.new("RGB", (800, 600), (40, 40, 160))
    image.paste(RED, (0, 0, 120, 120))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "Farm phone"
    exif[ExifTags.IFD.GPSInfo] = {1: "N", 2: (21.0, 43.0, 12.0), 3: "E", 4: (104.0, 54.0, 2.0)}
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><exif:GPSLatitude>21,43.2N</exif:GPSLatitude></x:xmpmeta>'
    extra = {"comment": b"Farm phone GPS 21.72N 104.90E"} if format == "JPEG" else {}
    content = encode(image, format, exif=exif.tobytes(), xmp=xmp, quality=90, **extra)

    prepared = prepare_product_photo(upload(content, "IMG_0001.heic" if format == "HEIF" else "IMG_0001.jpg"))

    result = opened(prepared)
    assert (prepared.width, prepared.height) == result.size == (600, 800)
    assert close(result.getpixel((600 - 30, 30)), RED, 40)  # the red corner is now top right
    assert not close(result.getpixel((30, 30)), RED, 40)
    assert len(result.getexif()) == 0
    assert not result.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert not {"exif", "xmp", "comment"} & set(result.info)
    for marker in (b"Exif\0\0", b"GPS", b"Farm phone", b"xmpmeta"):
        assert marker not in prepared.content


def test_minimum_size_is_reported_for_the_upright_photo():
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    content = encode(Image.new("RGB", (600, 300), "white"), "JPEG", exif=exif)

    rejected = rejection(content)
    assert rejected.code == "too_small"
    assert "300×600" in english(rejected)


# --- refusals --------------------------------------------------------------------------------


def test_tiny_photo_is_refused_with_its_size_and_the_minimum():
    rejected = rejection(encode(Image.new("RGB", (100, 100), "white"), "JPEG"))

    assert rejected.code == "too_small"
    message = english(rejected)
    assert "100×100" in message and "500×500" in message


def test_minimum_side_can_be_lowered_by_the_caller_and_in_settings(settings):
    content = encode(Image.new("RGB", (100, 100), "white"), "JPEG")
    assert prepare_product_photo(upload(content), min_side=100).width == 100

    settings.CATALOG_PHOTO_MIN_SIDE = 80
    assert prepare_product_photo(upload(content)).height == 100


def test_truncated_jpeg_is_refused_as_damaged():
    noise = Image.effect_noise((1000, 1000), 80).convert("RGB")
    content = encode(noise, "JPEG", quality=90)
    assert len(content) > 100_000

    rejected = rejection(content[: len(content) // 2])
    assert rejected.code == "damaged"
    assert "again" in english(rejected)


def test_truncated_heic_is_refused_as_damaged():
    # Damage is found while decoding, before the size check, so a small picture will do.
    content = encode(Image.effect_noise((256, 256), 80).convert("RGB"), "HEIF", quality=60)

    assert rejection(content[: len(content) // 2], "IMG_0002.HEIC").code == "damaged"


@pytest.mark.parametrize(
    "content", [b"", b"\xff\xd8\xff\xe0" + b"\x13" * 500], ids=["empty", "jpeg-start-then-garbage"]
)
def test_broken_upload_is_refused_as_damaged_not_as_a_wrong_format(content):
    assert rejection(content).code == "damaged"


@pytest.mark.parametrize("warning_action", ["ignore", "error"])
@pytest.mark.parametrize(
    ("width", "height"),
    [
        (8000, 8000),  # 64 Mpx: over our limit, under Pillow's own
        (10000, 10000),  # 100 Mpx: Pillow warns (or raises under -W error)
        (20000, 20000),  # 400 Mpx: Pillow raises DecompressionBombError
    ],
)
def test_decompression_bomb_is_refused_from_its_header(width, height, warning_action):
    content = png_claiming_size(width, height)
    assert len(content) < 100

    with warnings.catch_warnings():
        warnings.simplefilter(warning_action, Image.DecompressionBombWarning)
        rejected = rejection(content, "bomb.png")

    # "damaged" would mean the pixel data was decoded (and found missing) before the check.
    assert rejected.code == "too_many_pixels"
    assert "50 megapixels" in english(rejected)


def test_pixel_limit_comes_from_settings(settings):
    settings.CATALOG_PHOTO_MAX_PIXELS = 600 * 600 - 1

    assert rejection(plain_jpeg()).code == "too_many_pixels"


def test_picture_too_long_to_store_as_jpeg_is_refused():
    rejected = rejection(png_claiming_size(70_000, 600), "panorama.png")

    assert rejected.code == "too_many_pixels"
    assert "70000×600" in english(rejected)


def test_text_file_named_like_a_photo_is_not_an_image():
    rejected = rejection(b"Mat ong rung Tay Bac, 500 ml\n" * 40, "photo.jpg")

    assert rejected.code == "not_an_image"
    assert "JPEG, PNG, WebP or HEIC" in english(rejected)


@pytest.mark.parametrize("format", ["GIF", "BMP", "TIFF"])
def test_other_picture_formats_are_refused_even_with_a_jpg_name(format):
    content = encode(Image.new("RGB", (600, 600), (30, 120, 60)), format)

    assert rejection(content, "photo.jpg").code == "not_an_image"


def test_file_over_the_size_limit_is_refused_without_reading_or_decoding(monkeypatch):
    content = plain_jpeg()
    big = upload(content)

    def must_not_be_called(*args, **kwargs):
        raise AssertionError("the photo was read or opened although its size was over the limit")

    monkeypatch.setattr(Image, "open", must_not_be_called)
    monkeypatch.setattr(big, "chunks", must_not_be_called)
    with pytest.raises(ImageRejected) as caught:
        prepare_product_photo(big, max_bytes=len(content) - 1)

    assert caught.value.code == "too_large"


def test_size_limit_holds_when_the_declared_size_is_wrong():
    content = plain_jpeg()
    lying = upload(content)
    lying.size = 10

    with pytest.raises(ImageRejected) as caught:
        prepare_product_photo(lying, max_bytes=len(content) - 1)
    assert caught.value.code == "too_large"


def test_size_limit_comes_from_settings_and_is_stated_in_megabytes(settings):
    settings.CATALOG_PHOTO_MAX_BYTES = 512 * 1024
    content = plain_jpeg() + bytes(512 * 1024)  # trailing junk after the JPEG: only the size matters

    rejected = rejection(content)
    assert rejected.code == "too_large"
    message = english(rejected)
    assert "0.5 MB" in message and "lower resolution" in message


# --- accepted formats and output -------------------------------------------------------------


def test_heic_photo_is_accepted_and_stored_as_jpeg():
    image = Image.new("RGB", (640, 520), (30, 120, 60))
    content = encode(image, "HEIF", quality=80)
    assert pillow_heif.is_supported(content)

    prepared = prepare_product_photo(upload(content, "IMG_0003.HEIC", "image/heic"))

    result = opened(prepared)
    assert (prepared.format, result.format, result.size) == ("JPEG", "JPEG", (640, 520))
    assert prepared.filename == "img_0003.jpg"
    assert close(result.getpixel((320, 260)), (30, 120, 60), 10)


def test_webp_photo_is_accepted():
    content = encode(Image.new("RGB", (700, 500), (30, 120, 60)), "WEBP", quality=90)

    prepared = prepare_product_photo(upload(content, "san-pham.webp", "image/webp"))

    result = opened(prepared)
    assert (result.format, result.size) == ("JPEG", (700, 500))
    assert close(result.getpixel((350, 250)), (30, 120, 60), 10)


def test_multi_picture_jpeg_from_a_phone_is_accepted_as_a_single_jpeg():
    first = Image.new("RGB", (600, 600), (30, 120, 60))
    content = encode(first, "MPO", save_all=True, append_images=[Image.new("RGB", (600, 600), "blue")])
    assert Image.open(io.BytesIO(content)).format == "MPO"

    result = opened(prepare_product_photo(upload(content)))
    assert result.format == "JPEG"
    assert getattr(result, "n_frames", 1) == 1
    assert close(result.getpixel((300, 300)), (30, 120, 60), 10)


def test_output_is_a_full_resolution_progressive_jpeg():
    image = Image.linear_gradient("L").resize((4000, 3000)).convert("RGB")  # a 12 Mpx phone photo
    prepared = prepare_product_photo(upload(encode(image, "PNG", compress_level=1), "goc.png"))

    result = opened(prepared)
    assert (prepared.width, prepared.height) == result.size == (4000, 3000)  # no downscaling here
    assert result.format == "JPEG" and result.mode == "RGB"
    assert result.info.get("progressive") or result.info.get("progression")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("IMG_20240501_101500.HEIC", "img_20240501_101500.jpg"),
        ("C:\\fakepath\\Ảnh đặc sản Đà Lạt.png", "anh-dac-san-da-lat.jpg"),
        ("../../etc/passwd", "passwd.jpg"),
        ("<script>.jpg", "script.jpg"),
        ("ảnh.jpg.exe", "anhjpg.jpg"),
        ("???.jpg", "photo.jpg"),
    ],
)
def test_filename_is_safe_and_ends_in_jpg(name, expected):
    assert prepare_product_photo(upload(plain_jpeg(), name)).filename == expected


# --- messages --------------------------------------------------------------------------------


def test_messages_are_translatable_english_strings_rendered_when_shown():
    rejected = rejection(b"not a picture", "photo.jpg")

    assert isinstance(rejected.message, Promise)  # translated when shown, not when raised
    assert english(rejected) == (
        "This file is not a photo we can use. Please choose a picture in JPEG, PNG, WebP or HEIC format, "
        "for example a photo taken with your phone's camera."
    )
    with override("en"):
        assert str(rejected) == english(rejected)


def test_numbers_in_messages_follow_the_language_shown():
    rejected = rejection(plain_jpeg() + bytes(600_000), max_bytes=512 * 1024)

    assert "0.5 MB" in english(rejected)
    with override("vi"):
        assert "0,5 MB" in str(rejected.message)
