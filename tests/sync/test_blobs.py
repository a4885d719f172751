"""Blob uploads: hashed, judged by content, stripped of metadata, deduplicated."""
import hashlib
import io

import pytest
from PIL import Image

from server.models import AuditEvent, Blob


def jpeg_bytes(color=(200, 30, 30), size=(64, 48), exif=True):
    img = Image.new("RGB", size, color)
    out = io.BytesIO()
    kw = {}
    if exif:
        ex = Image.Exif()
        ex[0x010F] = "SecretPhoneMaker"  # Make
        ex[0x0112] = 6  # Orientation: rotate 90° CW to display
        kw["exif"] = ex.tobytes()
    img.save(out, "JPEG", **kw)
    return out.getvalue()


def sha(data):
    return hashlib.sha256(data).hexdigest()


def put(client, data, digest=None, ctype="image/jpeg"):
    return client.put(f"/api/v1/blobs/{digest or sha(data)}", data=data, content_type=ctype)


def test_upload_then_head_and_get(login, db):
    c = login("inspector_a")
    data = jpeg_bytes()
    assert c.head(f"/api/v1/blobs/{sha(data)}").status_code == 404
    resp = put(c, data)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["mime"] == "image/jpeg"
    assert c.head(f"/api/v1/blobs/{sha(data)}").status_code == 200
    got = c.get(f"/api/v1/blobs/{sha(data)}")
    assert got.status_code == 200 and got.mimetype == "image/jpeg"
    assert c.get(f"/api/v1/blobs/{sha(data)}/thumb").status_code == 200
    assert db.session.query(AuditEvent).filter_by(action="blob.upload").count() == 1


def test_metadata_is_stripped_and_orientation_applied(login):
    c = login("inspector_a")
    data = jpeg_bytes(size=(64, 48))
    put(c, data)
    stored = c.get(f"/api/v1/blobs/{sha(data)}").data
    img = Image.open(io.BytesIO(stored))
    assert b"SecretPhoneMaker" not in stored
    assert img.size == (48, 64)  # rotated into its display orientation
    assert 0x0112 not in img.getexif()


def test_hash_mismatch_is_refused(login, db):
    c = login("inspector_a")
    data = jpeg_bytes()
    resp = put(c, data, digest=sha(b"something else"))
    assert resp.status_code == 400
    assert resp.get_json()["reason"] == "blob_hash_mismatch"
    assert db.session.query(Blob).count() == 0


@pytest.mark.parametrize("payload", [
    b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
    b"<html><body><script>alert(1)</script></body></html>",
    b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
])
def test_non_images_named_jpg_are_refused(login, db, payload):
    c = login("inspector_a")
    resp = put(c, payload, ctype="image/jpeg")
    assert resp.status_code == 422
    assert resp.get_json()["reason"] == "blob_bad_type"
    assert db.session.query(Blob).count() == 0


def test_svg_signature_accepted_but_script_refused(login):
    c = login("inspector_a")
    ok = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><path d="M0 0L10 10"/></svg>'
    assert put(c, ok, ctype="image/svg+xml").status_code == 201
    bad = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    resp = put(c, bad, ctype="image/svg+xml")
    assert resp.status_code == 422 and resp.get_json()["reason"] == "blob_svg_unsafe"


def test_identical_upload_is_deduplicated(login, db):
    c = login("inspector_a")
    data = jpeg_bytes()
    assert put(c, data).status_code == 201
    assert put(c, data).status_code == 200
    assert db.session.query(Blob).count() == 1


def test_blobs_need_login(client, world):
    data = jpeg_bytes()
    assert put(client, data).status_code == 401


def test_bad_hash_format(login):
    c = login("inspector_a")
    resp = c.put("/api/v1/blobs/not-a-hash", data=b"x", content_type="image/jpeg")
    assert resp.status_code == 400 and resp.get_json()["reason"] == "blob_bad_hash"


def test_owner_cannot_read_other_venues_photos(login):
    data = jpeg_bytes()
    put(login("inspector_a"), data)
    owner = login("owner_a")
    assert owner.get(f"/api/v1/blobs/{sha(data)}").status_code == 404
