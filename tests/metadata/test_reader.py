"""Reading a photo's metadata: what a user sees as its date, camera, place, tags and type."""

from __future__ import annotations

import io
import os
import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import Image

from metadata.photo_files import alt, bag, exif_block, iptc_block, jpeg, png, raw_exif, xmp_packet
from xmr_desktop.metadata.reader import read_metadata

NOW = datetime(2025, 3, 10, 12, 0)


def read(path: Path, **kwargs: object):
    return read_metadata(str(path), now=NOW, **kwargs)  # type: ignore[arg-type]


# -- date taken ------------------------------------------------------------------------------------------------

def test_exif_date_with_offset_is_local_time_with_its_zone(tmp_path: Path) -> None:
    meta = read(jpeg(tmp_path / "a.jpg", exif=exif_block(original="2023:07:14 10:11:12", offset="+02:00")))
    assert meta.taken is not None and meta.taken.source == "exif"
    assert meta.taken.local == datetime(2023, 7, 14, 10, 11, 12)
    assert meta.taken.offset_minutes == 120
    assert meta.taken.isoformat() == "2023-07-14T10:11:12+02:00"
    assert meta.taken.utc == datetime(2023, 7, 14, 8, 11, 12, tzinfo=timezone.utc)


def test_exif_date_without_offset_stays_naive(tmp_path: Path) -> None:
    meta = read(jpeg(tmp_path / "a.jpg", exif=exif_block(original="2019:12:31 23:30:00")))
    assert meta.taken.source == "exif" and meta.taken.offset_minutes is None
    assert meta.taken.isoformat() == "2019-12-31T23:30:00"  # a photo of 2019, wherever the computer is now


def test_missing_offset_is_recovered_from_the_gps_clock(tmp_path: Path) -> None:
    # Taken 18:02 local in Tokyo; the GPS fix said 09:00 UTC: the zone is +09:00.
    exif = exif_block(original="2023:04:01 18:02:10", gps=(35.68, 139.69), gps_utc=("2023:04:01", (9, 0, 0)))
    meta = read(jpeg(tmp_path / "a.jpg", exif=exif))
    assert meta.taken.offset_minutes == 9 * 60


def test_create_date_serves_when_the_original_date_is_blank(tmp_path: Path) -> None:
    exif = exif_block(original="    :  :     :  :  ", digitized="2021:02:03 04:05:06")
    meta = read(jpeg(tmp_path / "a.jpg", exif=exif))
    assert (meta.taken.source, meta.taken.local) == ("exif", datetime(2021, 2, 3, 4, 5, 6))


def test_xmp_date_when_there_is_no_exif_and_the_sidecar_wins(tmp_path: Path) -> None:
    photo = jpeg(tmp_path / "a.jpg", xmp=xmp_packet("<photoshop:DateCreated>2018-05-06T07:08:09-04:00</photoshop:DateCreated>"))
    meta = read(photo)
    assert (meta.taken.source, meta.taken.local, meta.taken.offset_minutes) == ("xmp", datetime(2018, 5, 6, 7, 8, 9), -240)
    (tmp_path / "a.jpg.xmp").write_bytes(xmp_packet("<exif:DateTimeOriginal>2017-01-02T03:04:05</exif:DateTimeOriginal>"))
    assert read(photo).taken.local == datetime(2017, 1, 2, 3, 4, 5)


def test_iptc_date_with_its_offset(tmp_path: Path) -> None:
    photo = jpeg(tmp_path / "a.jpg", iptc=iptc_block([(2, 55, b"20160708"), (2, 60, b"101112+0530")]))
    meta = read(photo)
    assert (meta.taken.source, meta.taken.local, meta.taken.offset_minutes) == ("iptc", datetime(2016, 7, 8, 10, 11, 12), 330)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("IMG_20230714_101112.jpg", datetime(2023, 7, 14, 10, 11, 12)),
        ("IMG-20230714-WA0001.jpg", datetime(2023, 7, 14)),
        ("2023-07-14 10.11.12.jpg", datetime(2023, 7, 14, 10, 11, 12)),
        ("微信图片_20230714101112.jpg", datetime(2023, 7, 14, 10, 11, 12)),
        ("Screenshot_2023-07-14-10-11-12-123_com.example.png", datetime(2023, 7, 14, 10, 11, 12)),
        ("Screen Shot 2020-01-01 at 10.11.12 PM.png", datetime(2020, 1, 1, 22, 11, 12)),
        ("Bildschirmfoto 2023-07-14 um 10.11.12.png", datetime(2023, 7, 14, 10, 11, 12)),
        ("截屏2023-07-14 10.11.12.png", datetime(2023, 7, 14, 10, 11, 12)),
    ],
)
def test_a_date_in_the_file_name(tmp_path: Path, name: str, expected: datetime) -> None:
    path = tmp_path / name
    if name.endswith(".png"):
        png(path)
    else:
        jpeg(path)
    meta = read(path)
    assert (meta.taken.source, meta.taken.local) == ("filename", expected)


def test_pixel_file_names_are_utc_and_shown_in_this_computers_zone(tmp_path: Path) -> None:
    meta = read(jpeg(tmp_path / "PXL_20230714_101112345.jpg"))
    expected = datetime(2023, 7, 14, 10, 11, 12, tzinfo=timezone.utc).astimezone()
    assert meta.taken.source == "filename"
    assert meta.taken.local == expected.replace(tzinfo=None)
    assert meta.taken.offset_minutes == expected.utcoffset() // timedelta(minutes=1)


@pytest.mark.parametrize("name", ["IMG_1234.JPG", "IMG_202307141.jpg", "DSC_20231399.jpg", "IMG_20990101_000000.jpg"])
def test_numbers_that_are_no_date_fall_back_to_the_modification_time(tmp_path: Path, name: str) -> None:
    path = jpeg(tmp_path / name)
    stamp = datetime(2022, 8, 9, 10, 11, 12).timestamp()
    os.utime(path, (stamp, stamp))
    meta = read(path)
    assert (meta.taken.source, meta.taken.local) == ("mtime", datetime(2022, 8, 9, 10, 11, 12))
    assert meta.taken.offset_minutes is not None  # this computer's zone at that time


# -- camera, GPS, tags -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("make", "model", "camera"),
    [
        ("Apple", "iPhone 12", "Apple iPhone 12"),
        ("FUJIFILM", "X-T3", "FUJIFILM X-T3"),
        ("NIKON CORPORATION", "NIKON D750", "Nikon D750"),
        ("Canon", "Canon EOS 5D Mark IV", "Canon EOS 5D Mark IV"),
        ("OLYMPUS IMAGING CORP.  ", "E-M10", "Olympus E-M10"),
        ("samsung", "SM-G991B", "Samsung SM-G991B"),
    ],
)
def test_camera_names_are_normalised(tmp_path: Path, make: str, model: str, camera: str) -> None:
    meta = read(jpeg(tmp_path / "a.jpg", exif=exif_block(make=make, model=model, lens="XF16-55mmF2.8 R LM WR")))
    assert meta.camera == camera
    assert meta.lens == "XF16-55mmF2.8 R LM WR"


def test_gps_position_takes_its_signs_from_the_references(tmp_path: Path) -> None:
    meta = read(jpeg(tmp_path / "rio.jpg", exif=exif_block(gps=(-22.9519, -43.2105), altitude=-3.0)))
    assert meta.latitude == pytest.approx(-22.9519, abs=1e-4)
    assert meta.longitude == pytest.approx(-43.2105, abs=1e-4)
    assert meta.altitude == pytest.approx(-3.0)


def test_a_zero_zero_fix_is_no_position(tmp_path: Path) -> None:
    meta = read(jpeg(tmp_path / "a.jpg", exif=exif_block(gps=(0.0, 0.0))))
    assert meta.latitude is None and meta.longitude is None


def test_keywords_title_description_and_rating_from_iptc_and_xmp(tmp_path: Path) -> None:
    xmp = xmp_packet(
        bag("dc:subject", ["beach", "Família"])
        + bag("lr:hierarchicalSubject", ["Places|Portugal|Lisbon"])
        + bag("digiKam:TagsList", ["People/Ana"], "Seq")
        + alt("dc:title", "Sunset at Belém")
        + "<xmp:Rating>4</xmp:Rating>"
    )
    iptc = iptc_block([(2, 25, "长城".encode()), (2, 25, b"BEACH"), (2, 120, "À noite".encode()), (2, 90, b"Lisboa")])
    meta = read(jpeg(tmp_path / "a.jpg", xmp=xmp, iptc=iptc, exif=exif_block(description="OLYMPUS DIGITAL CAMERA")))
    assert meta.keywords == ("beach", "Família", "Lisbon", "Ana", "长城")  # BEACH is beach again
    assert meta.title == "Sunset at Belém"
    assert meta.description == "À noite"  # the camera's "OLYMPUS DIGITAL CAMERA" is no description
    assert meta.rating == 4
    assert meta.place_tags[0] == "Lisboa"


def test_windows_explorer_keywords(tmp_path: Path) -> None:
    meta = read(jpeg(tmp_path / "a.jpg", exif=exif_block(xp_keywords="holiday;family")))
    assert meta.keywords == ("holiday", "family")


@pytest.mark.parametrize("sidecar", ["a.jpg.xmp", "a.xmp"])
def test_sidecars_of_darktable_digikam_and_lightroom(tmp_path: Path, sidecar: str) -> None:
    photo = jpeg(tmp_path / "a.jpg")
    (tmp_path / sidecar).write_bytes(xmp_packet(bag("dc:subject", ["sidecar tag"]) + '<xmp:Rating>5</xmp:Rating>'))
    meta = read(photo)
    assert meta.keywords == ("sidecar tag",) and meta.rating == 5


def test_a_folder_listing_spares_looking_for_sidecars_that_are_not_there(tmp_path: Path) -> None:
    photo = jpeg(tmp_path / "a.jpg")
    (tmp_path / "a.jpg.xmp").write_bytes(xmp_packet(bag("dc:subject", ["x"])))
    assert read(photo, folder_listing=frozenset({"a.jpg", "a.jpg.xmp"})).keywords == ("x",)
    assert read(photo, folder_listing=frozenset({"a.jpg"})).keywords == ()


# -- size, format, type ------------------------------------------------------------------------------------------

def test_pixel_size_is_upright(tmp_path: Path) -> None:
    meta = read(jpeg(tmp_path / "a.jpg", size=(80, 40), exif=exif_block(orientation=6)))
    assert (meta.width, meta.height, meta.file_format) == (40, 80, "jpeg")


@pytest.mark.parametrize(
    ("name", "size", "exif", "kind"),
    [
        ("Screenshot 2023-07-14 at 10.11.12.png", (64, 48), None, "screenshot"),
        ("截屏2023-07-14.png", (64, 48), None, "screenshot"),
        ("屏幕截图 2023-07-14 101112.png", (64, 48), None, "screenshot"),
        ("IMG_0001.jpg", (64, 48), exif_block(user_comment=b"ASCII\x00\x00\x00Screenshot"), "screenshot"),
        ("PANO_20230714_101112.jpg", (64, 48), None, "panorama"),
        ("wide.jpg", (300, 100), None, "panorama"),
        ("long-chat-export.jpg", (100, 300), None, "photo"),  # tall, no camera: a long web page, not a panorama
        ("tall.jpg", (100, 300), exif_block(make="Apple", model="iPhone 12"), "panorama"),
        ("IMG_0002.jpg", (64, 48), None, "photo"),
    ],
)
def test_screenshots_and_panoramas(tmp_path: Path, name: str, size: tuple[int, int], exif: Image.Exif | None, kind: str) -> None:
    path = tmp_path / name
    if name.endswith(".png"):
        png(path, size=size)
    else:
        jpeg(path, size=size, exif=exif)
    assert read(path).kind == kind


def test_photos_in_a_screenshots_folder_are_screenshots(tmp_path: Path) -> None:
    (tmp_path / "Screenshots").mkdir()
    assert read(png(tmp_path / "Screenshots" / "x.png")).kind == "screenshot"


def test_google_photo_sphere_xmp_is_a_panorama(tmp_path: Path) -> None:
    xmp = xmp_packet('<GPano:ProjectionType>equirectangular</GPano:ProjectionType>')
    assert read(jpeg(tmp_path / "a.jpg", xmp=xmp)).kind == "panorama"


def test_png_xmp_is_read(tmp_path: Path) -> None:
    meta = read(png(tmp_path / "a.png", xmp=xmp_packet(bag("dc:subject", ["diagram"])).decode()))
    assert (meta.keywords, meta.file_format) == (("diagram",), "png")


@pytest.mark.parametrize(("ext", "fmt"), [("webp", "webp"), ("gif", "gif"), ("bmp", "bmp"), ("tif", "tiff")])
def test_file_formats(tmp_path: Path, ext: str, fmt: str) -> None:
    path = tmp_path / f"a.{ext}"
    Image.new("RGB", (20, 10)).save(path)
    assert read(path).file_format == fmt


# -- the decode worker's image, and never the pixels -------------------------------------------------------------

def test_an_already_open_image_gives_the_same_metadata(tmp_path: Path) -> None:
    exif = exif_block(original="2023:07:14 10:11:12", offset="+02:00", make="Apple", model="iPhone 12", gps=(38.72, -9.14))
    path = jpeg(tmp_path / "a.jpg", exif=exif, xmp=xmp_packet(bag("dc:subject", ["beach"])))
    data = path.read_bytes()
    info = os.stat(path)
    image = Image.open(io.BytesIO(data))  # what the indexer's decode worker holds
    from_image = read_metadata(str(path), image=image, size=info.st_size, mtime_ns=info.st_mtime_ns, now=NOW)
    assert from_image == read(path)


def test_only_headers_are_read_pixels_never(tmp_path: Path) -> None:
    # Pixel data cut off: decoding would fail, reading metadata must not notice.
    path = jpeg(tmp_path / "a.jpg", size=(400, 300), exif=exif_block(original="2023:07:14 10:11:12"))
    path.write_bytes(path.read_bytes()[:-400])
    cut_png = png(tmp_path / "b.png", size=(400, 300))
    cut_png.write_bytes(cut_png.read_bytes()[:-200])
    meta = read(path)
    assert meta.taken.source == "exif" and (meta.width, meta.height) == (400, 300) and not meta.problems
    assert read(cut_png).width == 400


# -- hostile input -----------------------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # Pillow's own warning about the damage we made
def test_damaged_exif_is_noted_not_raised(tmp_path: Path) -> None:
    good = jpeg(tmp_path / "a.jpg", exif=exif_block(original="2023:07:14 10:11:12", make="Apple", model="iPhone 12"))
    data = bytearray(good.read_bytes())
    start = data.index(b"Exif\x00\x00") + 6
    data[start + 4 : start + 8] = b"\xff\xff\xff\x7f"  # IFD0 offset far past the end
    broken = tmp_path / "IMG_20200101_120000.jpg"
    broken.write_bytes(bytes(data))
    meta = read(broken)
    assert meta.taken.source == "filename"  # the date comes from elsewhere
    assert meta.camera is None


def test_wrong_types_in_exif_are_ignored(tmp_path: Path) -> None:
    segment = raw_exif(
        [(0x010F, 3, struct.pack("<H", 12345))],  # Make as a number
        [(0x9003, 4, struct.pack("<I", 20230714)), (0x9011, 4, struct.pack("<I", 2))],  # date, offset as numbers
        [(1, 2, b"N\x00"), (2, 2, b"north-ish\x00"), (3, 3, struct.pack("<H", 7)), (4, 5, struct.pack("<II", 1, 0))],
    )
    meta = read(jpeg(tmp_path / "IMG_20200101_120000.jpg", raw_exif_segment=segment))
    assert meta.taken.source == "filename" and meta.latitude is None and meta.camera is None


def test_xmp_with_entities_is_refused(tmp_path: Path) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject>&lol2;</dc:subject>'
        b"</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    meta = read(jpeg(tmp_path / "a.jpg", xmp=bomb))
    assert meta.keywords == ()
    assert any("DTD" in problem for problem in meta.problems)


def test_huge_and_malformed_sidecars_are_refused(tmp_path: Path) -> None:
    photo = jpeg(tmp_path / "a.jpg", exif=exif_block(original="2023:07:14 10:11:12"))
    (tmp_path / "a.jpg.xmp").write_bytes(b"<x>" + b" " * (5 * 2**20) + b"</x>")
    meta = read(photo)
    assert meta.taken.source == "exif" and any("limit" in p for p in meta.problems)
    (tmp_path / "a.jpg.xmp").write_bytes(b"<x:xmpmeta><unclosed")
    assert any("well-formed" in p for p in read(photo).problems)


def test_a_file_that_is_no_image_still_gets_a_date(tmp_path: Path) -> None:
    path = tmp_path / "IMG_20230714_101112.jpg"
    path.write_bytes(os.urandom(2048))
    meta = read(path)
    assert meta.taken.source == "filename" and meta.problems


def test_truncated_iptc_keeps_what_was_read(tmp_path: Path) -> None:
    block = iptc_block([(2, 25, b"first"), (2, 25, b"second")])[:-3]
    assert read(jpeg(tmp_path / "a.jpg", iptc=block)).keywords == ("first",)


def test_a_fifo_is_not_opened_for_reading(tmp_path: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    fifo = tmp_path / "x.jpg"
    os.mkfifo(fifo)
    with pytest.raises(OSError):
        read_metadata(str(fifo))
