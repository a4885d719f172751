"""Photo and signature uploads: verify the hash, check the content, strip metadata, thumbnail.

The phone names a blob by the SHA-256 of the bytes it sends. The server re-hashes while reading
and refuses a mismatch, accepts only JPEG/PNG/WebP images and PNG/SVG signatures (judged by the
bytes, not the name or the Content-Type), re-encodes raster images with Pillow to drop EXIF and
other metadata (orientation is applied to the pixels first, so nothing turns sideways), and keeps
the phone's hash as the blob's name so mutations that cite it resolve. The re-encoded bytes are
what is stored; `stored_sha256` records their own hash.
"""
from __future__ import annotations

import hashlib
import io
import re

from PIL import Image, ImageOps, UnidentifiedImageError

from server.extensions import db
from server.models import Blob
from server.services import audit
from server.services.access import authorize
from server.services.errors import BadInput, NotFound, RuleViolation

RASTER = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
THUMB_EDGE = 320
CHUNK = 64 * 1024
# Refuse decompression bombs: 2048 px phone photos are ~4 MP; allow generous headroom.
Image.MAX_IMAGE_PIXELS = 60_000_000


def exists(sha256: str) -> Blob | None:
    return db.session.get(Blob, sha256)


def read_verified(stream, expected_sha256: str, max_bytes: int) -> bytes:
    """Read the body in chunks, hashing as we go; refuse oversize bodies and hash mismatches."""
    hasher = hashlib.sha256()
    buf = io.BytesIO()
    total = 0
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if total > max_bytes:
            raise RuleViolation("blob_too_large", max_mb=max_bytes // (1024 * 1024))
        hasher.update(chunk)
        buf.write(chunk)
    if total == 0:
        raise BadInput("blob_empty")
    if hasher.hexdigest() != expected_sha256:
        raise BadInput("blob_hash_mismatch")
    return buf.getvalue()


_SVG_FORBIDDEN = re.compile(rb"<script|<foreignObject|javascript:|\son[a-z]+\s*=|<!ENTITY|xlink:href\s*=\s*[\"'](?!#)|href\s*=\s*[\"'](?!#)", re.I)


def _sanitise_svg(data: bytes) -> bytes:
    head = data[:512].lstrip()
    if not (head.startswith(b"<svg") or head.startswith(b"<?xml")) or b"<svg" not in data[:2048]:
        raise RuleViolation("blob_bad_type")
    if _SVG_FORBIDDEN.search(data):
        raise RuleViolation("blob_svg_unsafe")
    return data


def _reencode(data: bytes) -> tuple[bytes, str, int, int, bytes]:
    try:
        img = Image.open(io.BytesIO(data))
        fmt = img.format
        if fmt not in RASTER:
            raise RuleViolation("blob_bad_type")
        img.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError):
        raise RuleViolation("blob_bad_type") from None
    img = ImageOps.exif_transpose(img)
    out = io.BytesIO()
    if fmt == "JPEG":
        img = img.convert("RGB")
        img.save(out, "JPEG", quality=88, optimize=True)
    elif fmt == "PNG":
        img.save(out, "PNG", optimize=False)
    else:
        img.save(out, "WEBP", quality=88)
    thumb = img.copy()
    thumb.thumbnail((THUMB_EDGE, THUMB_EDGE))
    tout = io.BytesIO()
    thumb.convert("RGB").save(tout, "JPEG", quality=80)
    return out.getvalue(), RASTER[fmt], img.width, img.height, tout.getvalue()


def store(actor, sha256: str, stream, *, storage, max_bytes: int) -> tuple[Blob, bool]:
    """Store an upload named by its SHA-256. Returns (blob, created)."""
    authorize(actor, "blob.write")
    existing = exists(sha256)
    if existing is not None:
        # Drain nothing: the client learns it already exists (HEAD first is the fast path).
        return existing, False
    data = read_verified(stream, sha256, max_bytes)
    if data[:5] in (b"<?xml",) or data.lstrip()[:4] == b"<svg":
        clean = _sanitise_svg(data)
        mime, width, height, thumb = "image/svg+xml", None, None, None
    else:
        clean, mime, width, height, thumb = _reencode(data)
    storage.put_as(sha256, clean)
    if thumb is not None:
        storage.put_as(sha256 + ".thumb", thumb)
    blob = Blob(sha256=sha256, mime=mime, size=len(clean), width=width, height=height,
                stored_sha256=hashlib.sha256(clean).hexdigest(), has_thumbnail=thumb is not None,
                created_by_id=actor.id)
    db.session.add(blob)
    audit.record(actor, "blob.upload", "blob", sha256, after={"mime": mime, "size": len(clean)})
    db.session.commit()
    return blob, True


def _owner_may_read(actor, blob: Blob) -> bool:
    """Owners see blobs they sent and the photos/signatures on their own venues' records."""
    if blob.created_by_id == actor.id:
        return True
    from sqlalchemy import select

    from server.models import Hazard, Inspection
    from server.services.access import owner_venue_ids

    venue_ids = owner_venue_ids(actor)
    if not venue_ids:
        return False
    for hashes in db.session.scalars(select(Hazard.photo_hashes).where(Hazard.venue_id.in_(venue_ids))):
        if blob.sha256 in (hashes or []):
            return True
    signed = select(Inspection.id).where(Inspection.venue_id.in_(venue_ids),
                                         Inspection.owner_signature_hash == blob.sha256)
    return db.session.scalar(signed) is not None


def load(actor, sha256: str, *, storage, thumb: bool = False) -> tuple[bytes, str]:
    authorize(actor, "blob.read")
    blob = exists(sha256)
    if blob is None or (actor.role == "owner" and not _owner_may_read(actor, blob)):
        raise NotFound("blob_not_found")
    data = storage.get(sha256 + ".thumb" if thumb and blob.has_thumbnail else sha256)
    if data is None:
        raise NotFound("blob_not_found")
    return data, "image/jpeg" if thumb and blob.has_thumbnail else blob.mime
