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
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

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


MISSING_MAX = 500


def exists(sha256: str) -> Blob | None:
    return db.session.get(Blob, sha256)


def missing(actor, hashes: list[str]) -> list[str]:
    """Which of these hashes the server does not hold yet, in the order asked (one query).

    Lets the phone ask once per push batch instead of one HEAD per photo.
    """
    authorize(actor, "blob.write")
    wanted = list(dict.fromkeys(hashes))
    if not wanted:
        return []
    held = set(db.session.scalars(select(Blob.sha256).where(Blob.sha256.in_(wanted))))
    return [h for h in wanted if h not in held]


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


def _thumb_size(width: int, height: int) -> tuple[int, int]:
    scale = THUMB_EDGE / max(width, height)
    if scale >= 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def _thumbnail(img: Image.Image) -> bytes:
    """A JPEG of at most THUMB_EDGE px from the already decoded, already oriented image.

    `reducing_gap=1.0` lets Pillow box-average by the largest whole factor first (cheap, and a
    proper low-pass) and resample only the last step, instead of resampling from full size.
    """
    small = img.resize(_thumb_size(*img.size), Image.Resampling.BICUBIC, reducing_gap=1.0)
    if small.mode in ("RGBA", "LA", "PA") or (small.mode == "P" and "transparency" in small.info):
        # Transparent signatures: flatten onto white (a plain convert would turn them black).
        small = small.convert("RGBA")
        flat = Image.new("RGB", small.size, (255, 255, 255))
        flat.paste(small, mask=small.getchannel("A"))
        small = flat
    elif small.mode != "RGB":
        small = small.convert("RGB")
    out = io.BytesIO()
    small.save(out, "JPEG", quality=80)
    return out.getvalue()


def _reencode(data: bytes) -> tuple[bytes, str, int, int, bytes]:
    """Decode once; orient the pixels; encode without metadata; thumbnail from the same pixels."""
    try:
        img = Image.open(io.BytesIO(data))
        fmt = img.format
        if fmt not in RASTER:
            raise RuleViolation("blob_bad_type")
        img.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError):
        raise RuleViolation("blob_bad_type") from None
    # In place: no full-size copy when the orientation is already upright (the usual case).
    ImageOps.exif_transpose(img, in_place=True)
    # Pillow's writers take EXIF/XMP only from save() arguments (none are passed), but copy a
    # JPEG comment and a PNG ICC profile from img.info: keep only what the pixels need.
    img.info = {k: v for k, v in img.info.items() if k == "transparency"}
    out = io.BytesIO()
    if fmt == "JPEG":
        if img.mode != "RGB":
            img = img.convert("RGB")
        img.save(out, "JPEG", quality=88, optimize=True)
    elif fmt == "PNG":
        img.save(out, "PNG", optimize=False)
    else:
        img.save(out, "WEBP", quality=88)
    return out.getvalue(), RASTER[fmt], img.width, img.height, _thumbnail(img)


@dataclass(frozen=True)
class _Uploader:
    id: int
    role: str


def _end_read_transaction() -> None:
    """End the request's read-only transaction before slow work (reading the body, Pillow).

    On SQLite every transaction takes the write lock (BEGIN IMMEDIATE, server/database.py), so
    holding one open while a phone trickles its photo in and Pillow re-encodes it would queue
    every other request behind this upload; on PostgreSQL it would sit idle in transaction.
    """
    session = db.session
    if not (session.new or session.dirty or session.deleted):
        session.rollback()


def store(actor, sha256: str, stream, *, storage, max_bytes: int) -> tuple[Blob, bool]:
    """Store an upload named by its SHA-256. Returns (blob, created)."""
    authorize(actor, "blob.write")
    existing = exists(sha256)
    if existing is not None:
        # Drain nothing: the client learns it already exists (asking first is the fast path).
        return existing, False
    # A plain copy of what the audit row needs: the rollback below expires the ORM user, and
    # reloading it (with its areas and venues) would cost three more queries per photo.
    uploader = _Uploader(actor.id, actor.role)
    _end_read_transaction()
    data = read_verified(stream, sha256, max_bytes)
    if data[:5] in (b"<?xml",) or data.lstrip()[:4] == b"<svg":
        clean = _sanitise_svg(data)
        mime, width, height, thumb = "image/svg+xml", None, None, None
    else:
        clean, mime, width, height, thumb = _reencode(data)
    # Same bytes in, same bytes out: a concurrent upload of this hash writes identical files.
    storage.put_as(sha256, clean)
    if thumb is not None:
        storage.put_as(sha256 + ".thumb", thumb)
    existing = exists(sha256)  # stored by a concurrent upload while this one was re-encoding
    if existing is not None:
        return existing, False
    values = dict(sha256=sha256, mime=mime, size=len(clean), width=width, height=height,
                  stored_sha256=hashlib.sha256(clean).hexdigest(), has_thumbnail=thumb is not None,
                  created_by_id=uploader.id)
    db.session.add(Blob(**values))
    audit.record(uploader, "blob.upload", "blob", sha256, after={"mime": mime, "size": len(clean)})
    try:
        db.session.commit()
    except IntegrityError:
        # PostgreSQL: the concurrent upload committed between our check and our insert.
        db.session.rollback()
        existing = exists(sha256)
        if existing is None:
            raise
        return existing, False
    # An unattached copy for the answer: the committed row is expired, and reading it back
    # would open one more transaction (on SQLite, one more turn at the write lock) per photo.
    return Blob(**values), True


def _owner_may_read(actor, blob: Blob) -> bool:
    """Owners see blobs they sent and the photos/signatures on their own venues' records."""
    if blob.created_by_id == actor.id:
        return True
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
