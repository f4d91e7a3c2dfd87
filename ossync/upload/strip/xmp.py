"""XMP packets cleaned property by property: location fields (`location`), and owner and
device identity as well (`private`). `all` drops the packet whole (its holder does that).

XMP is RDF in XML. A property can be an element or an attribute of `rdf:Description`,
anywhere in the tree; both are matched by namespace URI and local name, never by
prefix. A packet with a DTD (entities) or that is not well-formed XML is refused:
what cannot be read cannot be shown to be clean.
"""

from __future__ import annotations

from xml.dom import minidom
from xml.parsers.expat import ExpatError

from ossync.upload.strip.base import CannotStrip, at_least

EXIF = "http://ns.adobe.com/exif/1.0/"
EXIF_EX = "http://cipa.jp/exif/1.0/"
AUX = "http://ns.adobe.com/exif/1.0/aux/"
TIFF = "http://ns.adobe.com/tiff/1.0/"
PHOTOSHOP = "http://ns.adobe.com/photoshop/1.0/"
IPTC_CORE = "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/"
IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
DC = "http://purl.org/dc/elements/1.1/"
RIGHTS = "http://ns.adobe.com/xap/1.0/rights/"
DJI = "http://www.dji.com/drone-dji/1.0/"

LOCATION = {
    PHOTOSHOP: {"City", "State", "Country"},
    IPTC_CORE: {"Location", "CountryCode"},
    IPTC_EXT: {"LocationCreated", "LocationShown"},
    DJI: {"AbsoluteAltitude", "RelativeAltitude"},
}
PRIVATE = {
    TIFF: {"Artist"},
    AUX: {"SerialNumber", "LensSerialNumber", "OwnerName"},
    EXIF_EX: {"BodySerialNumber", "LensSerialNumber", "CameraOwnerName"},
    DC: {"creator"},
    PHOTOSHOP: {"AuthorsPosition", "CaptionWriter"},
    IPTC_CORE: {"CreatorContactInfo"},
    RIGHTS: {"Owner"},
    DJI: {"DroneSerialNumber", "CameraSerialNumber"},
}
PREFIXES = {EXIF: "exif", EXIF_EX: "exifEX", AUX: "aux", TIFF: "tiff", PHOTOSHOP: "photoshop",
            IPTC_CORE: "Iptc4xmpCore", IPTC_EXT: "Iptc4xmpExt", DC: "dc", RIGHTS: "xmpRights",
            DJI: "drone-dji"}
MAX_PACKET = 16 * 1024 * 1024


def _goes(namespace: str | None, local: str | None, level: str) -> bool:
    if not namespace or not local:
        return False
    if local.upper().startswith("GPS"):  # exif:GPSLatitude, drone-dji:GpsLongitude, …
        return True
    if local in LOCATION.get(namespace, ()):
        return True
    return at_least(level, "private") and local in PRIVATE.get(namespace, ())


def _name(namespace: str | None, local: str | None) -> str:
    return f"XMP {PREFIXES.get(namespace or '', namespace)}:{local}"


def clean(packet: bytes, level: str) -> tuple[bytes, list[str]] | None:
    """The packet without the level's properties, and their names; None if none found."""
    if len(packet) > MAX_PACKET:
        raise CannotStrip("the XMP packet is larger than 16 MiB")
    body = packet.rstrip(b"\x00 \t\r\n")
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise CannotStrip("the XMP packet declares a DTD")
    try:
        text = body.decode("utf-8")
        doc = minidom.parseString(text.lstrip("\ufeff").encode())
    except (UnicodeDecodeError, ExpatError) as exc:
        raise CannotStrip(f"the XMP packet is not well-formed XML ({exc})") from None
    removed: list[str] = []
    if doc.documentElement is None:
        raise CannotStrip("the XMP packet has no root element")
    _walk(doc.documentElement, level, removed)
    if not removed:
        return None
    out = "\n".join(node.toxml() for node in doc.childNodes)
    return out.encode("utf-8"), sorted(set(removed))


def _walk(element: minidom.Element, level: str, removed: list[str]) -> None:
    for i in reversed(range(element.attributes.length)):
        attr = element.attributes.item(i)
        if isinstance(attr, minidom.Attr) and _goes(attr.namespaceURI, attr.localName, level):
            removed.append(_name(attr.namespaceURI, attr.localName))
            element.removeAttributeNode(attr)
    for child in list(element.childNodes):
        if child.nodeType != child.ELEMENT_NODE:
            continue
        assert isinstance(child, minidom.Element)
        if _goes(child.namespaceURI, child.localName, level):
            removed.append(_name(child.namespaceURI, child.localName))
            element.removeChild(child)
        else:
            _walk(child, level, removed)


def fit(packet: bytes, length: int) -> bytes:
    """A cleaned packet padded with spaces to `length` bytes (for holders that must keep
    their size), inside the `<?xpacket end` wrapper when there is one."""
    if len(packet) > length:
        raise CannotStrip("the cleaned XMP packet does not fit where the old one was")
    pad = b" " * (length - len(packet))
    end = packet.rfind(b"<?xpacket end")
    return packet[:end] + pad + packet[end:] if end >= 0 else packet + pad


EMPTY = (b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
         b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
         b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>'
         b'<?xpacket end="w"?>')
