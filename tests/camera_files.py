"""Camera-like test photos: real encoders (Pillow, pillow-heif) write the pixels, piexif the
EXIF a phone writes — GPS, serial numbers, owner names, a maker note, a thumbnail — plus
an XMP packet and IPTC fields with a location and a creator. Shared by the strip tests
and bench/strip.py.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import piexif
from PIL import Image

SECRET_CITY = "Secretville"
OWNER = "Jane Q. Owner"
SERIAL = "SN-4242-XYZ"
KEPT_DESCRIPTION = "Harbour at dawn"

XMP = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="test">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:exif="http://ns.adobe.com/exif/1.0/"
    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
    xmlns:aux="http://ns.adobe.com/exif/1.0/aux/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    exif:GPSLatitude="51,30.0N" exif:GPSLongitude="0,7.5W"
    photoshop:City="{SECRET_CITY}" aux:SerialNumber="{SERIAL}" xmp:Rating="4">
   <dc:creator><rdf:Seq><rdf:li>{OWNER}</rdf:li></rdf:Seq></dc:creator>
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{KEPT_DESCRIPTION}</rdf:li></rdf:Alt>
   </dc:description>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
{" " * 200}
<?xpacket end="w"?>""".encode()


def picture(width: int = 96, height: int = 64, mode: str = "RGB") -> Image.Image:
    """A photo-like picture: gradients and detail, so encoders keep real data."""
    img = Image.new("RGB", (width, height))
    img.putdata([((x * 255) // width, (y * 255) // height, (x * y) % 256)
                 for y in range(height) for x in range(width)])
    return img.convert(mode)


def _thumbnail() -> bytes:
    out = io.BytesIO()
    picture(16, 12).save(out, "JPEG", quality=70)
    return out.getvalue()


def exif_bytes(orientation: int = 6, *, thumbnail: bool = True) -> bytes:
    """EXIF as a phone writes it (without the `Exif\\0\\0` prefix piexif adds)."""
    zeroth = {
        piexif.ImageIFD.Make: b"TestCam", piexif.ImageIFD.Model: b"Phone 9",
        piexif.ImageIFD.Orientation: orientation, piexif.ImageIFD.Artist: OWNER.encode(),
        piexif.ImageIFD.DateTime: b"2026:05:04 10:11:12",
        piexif.ImageIFD.Software: b"TestOS 1.0",
    }
    exif_ifd = {
        piexif.ExifIFD.DateTimeOriginal: b"2026:05:04 10:11:12",
        piexif.ExifIFD.BodySerialNumber: SERIAL.encode(),
        piexif.ExifIFD.LensSerialNumber: b"LENS-777",
        piexif.ExifIFD.CameraOwnerName: OWNER.encode(),
        piexif.ExifIFD.MakerNote: b"TESTMAKER\x00" + SERIAL.encode() + bytes(64),
        piexif.ExifIFD.FNumber: (18, 10),
    }
    gps = {
        piexif.GPSIFD.GPSLatitudeRef: b"N", piexif.GPSIFD.GPSLatitude: ((51, 1), (30, 1), (0, 1)),
        piexif.GPSIFD.GPSLongitudeRef: b"W",
        piexif.GPSIFD.GPSLongitude: ((0, 1), (7, 1), (30, 1)),
        piexif.GPSIFD.GPSAltitude: (35, 1),
    }
    data: dict[str, object] = {"0th": zeroth, "Exif": exif_ifd, "GPS": gps}
    if thumbnail:
        data["1st"] = {piexif.ImageIFD.Compression: 6, piexif.ImageIFD.XResolution: (72, 1),
                       piexif.ImageIFD.YResolution: (72, 1),
                       piexif.ImageIFD.ResolutionUnit: 2}
        data["thumbnail"] = _thumbnail()
    raw = piexif.dump(data)
    return raw[6:] if raw.startswith(b"Exif\x00\x00") else raw


def iptc_segment() -> bytes:
    """An APP13 Photoshop segment with IPTC City, By-line and Caption."""
    def dataset(number: int, text: str) -> bytes:
        value = text.encode()
        return bytes((0x1C, 2, number)) + struct.pack(">H", len(value)) + value
    iptc = dataset(90, SECRET_CITY) + dataset(80, OWNER) + dataset(120, KEPT_DESCRIPTION)
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(
        ">I", len(iptc)) + iptc + b"\x00" * (len(iptc) % 2)
    body = b"Photoshop 3.0\x00" + resource
    return b"\xff\xed" + struct.pack(">H", len(body) + 2) + body


def jpeg(path: Path, orientation: int = 6, *, iptc: bool = True) -> Path:
    out = io.BytesIO()
    picture().save(out, "JPEG", quality=90, exif=b"Exif\x00\x00" + exif_bytes(orientation))
    data = out.getvalue()
    body = b"http://ns.adobe.com/xap/1.0/\x00" + XMP
    extra = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    if iptc:
        extra += iptc_segment()
    at = 2  # after the APPn segments Pillow wrote, before the tables
    while 0xE0 <= data[at + 1] <= 0xEF:
        at += 2 + struct.unpack_from(">H", data, at + 2)[0]
    data = data[:at] + extra + data[at:]
    path.write_bytes(data)
    return path


def heic(path: Path, orientation: int = 6) -> Path:
    import pillow_heif

    pillow_heif.register_heif_opener()
    picture().save(path, format="HEIF", quality=90,
                   exif=b"Exif\x00\x00" + exif_bytes(orientation, thumbnail=False), xmp=XMP)
    return path


def png(path: Path, orientation: int = 6) -> Path:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", OWNER)
    info.add_text("Description", KEPT_DESCRIPTION)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    picture().save(path, "PNG", pnginfo=info, exif=exif_bytes(orientation, thumbnail=False))
    return path


def webp(path: Path, orientation: int = 6) -> Path:
    picture().save(path, "WEBP", lossless=True, exif=exif_bytes(orientation, thumbnail=False),
                   xmp=XMP)
    return path


def tiff(path: Path, orientation: int = 6) -> Path:
    """A TIFF whose IFD0 carries the EXIF, GPS and XMP, as a scanning app writes them."""
    exif = Image.Exif()
    exif.load(b"Exif\x00\x00" + exif_bytes(orientation, thumbnail=False))
    exif[700] = XMP
    picture().save(path, "TIFF", exif=exif)
    return path


MAKERS = {"jpeg": jpeg, "heic": heic, "png": png, "webp": webp, "tiff": tiff}
