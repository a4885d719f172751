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


def test_thumbnail_is_320px_and_upright(login):
    c = login("inspector_a")
    data = jpeg_bytes(size=(1600, 1200))  # EXIF orientation 6: displays as 1200 × 1600
    put(c, data)
    thumb = Image.open(io.BytesIO(c.get(f"/api/v1/blobs/{sha(data)}/thumb").data))
    assert thumb.format == "JPEG"
    assert thumb.size == (240, 320)
    assert 0x0112 not in thumb.getexif()


def test_jpeg_comment_is_dropped(login):
    c = login("inspector_a")
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(out, "JPEG", comment=b"owner phone 13800000000")
    data = out.getvalue()
    assert put(c, data).status_code == 201
    stored = c.get(f"/api/v1/blobs/{sha(data)}").data
    assert b"13800000000" not in stored
    assert "comment" not in Image.open(io.BytesIO(stored)).info


def test_png_metadata_is_dropped(login):
    from PIL import ImageCms, PngImagePlugin

    c = login("inspector_a")
    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "SecretPhoneMaker")
    out = io.BytesIO()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.new("RGB", (40, 30), (0, 200, 0)).save(out, "PNG", pnginfo=text, icc_profile=icc)
    data = out.getvalue()
    assert put(c, data, ctype="image/png").status_code == 201
    stored = Image.open(io.BytesIO(c.get(f"/api/v1/blobs/{sha(data)}").data))
    assert stored.size == (40, 30)
    assert "Author" not in stored.info and "icc_profile" not in stored.info


def test_transparent_signature_thumbnail_is_ink_on_white(login):
    c = login("inspector_a")
    sig = Image.new("RGBA", (400, 200), (0, 0, 0, 0))  # a canvas export: transparent background
    sig.paste((0, 0, 0, 255), (50, 90, 350, 110))      # one black stroke
    out = io.BytesIO()
    sig.save(out, "PNG")
    data = out.getvalue()
    assert put(c, data, ctype="image/png").status_code == 201
    stored = Image.open(io.BytesIO(c.get(f"/api/v1/blobs/{sha(data)}").data))
    assert stored.mode == "RGBA" and stored.getpixel((5, 5))[3] == 0  # the stored PNG keeps its alpha
    thumb = Image.open(io.BytesIO(c.get(f"/api/v1/blobs/{sha(data)}/thumb").data)).convert("L")
    assert thumb.size == (320, 160)
    assert thumb.getpixel((5, 5)) > 240 and thumb.getpixel((160, 80)) < 40


def test_missing_lists_only_hashes_the_server_lacks_in_the_order_asked(login):
    c = login("inspector_a")
    held, other = jpeg_bytes((1, 2, 3)), jpeg_bytes((4, 5, 6))
    put(c, held)
    unknown = [sha(b"never uploaded %d" % i) for i in range(3)]
    asked = [unknown[0], sha(held), unknown[1], unknown[0], sha(other), unknown[2]]
    resp = c.post("/api/v1/blobs/missing", json={"hashes": asked})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"missing": [unknown[0], unknown[1], sha(other), unknown[2]]}
    assert c.post("/api/v1/blobs/missing", json={"hashes": []}).get_json() == {"missing": []}


@pytest.mark.parametrize("username", ["admin", "supervisor_a", "inspector_a", "owner_a"])
def test_every_role_that_may_upload_may_ask_what_is_missing(login, username):
    resp = login(username).post("/api/v1/blobs/missing", json={"hashes": [sha(b"x")]})
    assert resp.status_code == 200 and resp.get_json() == {"missing": [sha(b"x")]}


def test_missing_needs_login(client, world):
    resp = client.post("/api/v1/blobs/missing", json={"hashes": [sha(b"x")]})
    assert resp.status_code == 401 and resp.get_json()["reason"] == "login_required"


@pytest.mark.parametrize("body", [
    {"hashes": ["not-a-hash"]},
    {"hashes": [sha(b"%d" % i) for i in range(501)]},
    {},
    {"hashes": [], "extra": 1},
])
def test_missing_refuses_bad_questions(login, body):
    resp = login("inspector_a").post("/api/v1/blobs/missing", json=body)
    assert resp.status_code == 422 and resp.get_json()["reason"] == "invalid_input"


def test_upload_is_read_and_reencoded_outside_any_database_transaction(login, db, monkeypatch):
    # On SQLite every transaction holds the write lock: a slow upload must not hold it.
    from server.services import blobs

    seen = []
    real_read, real_reencode = blobs.read_verified, blobs._reencode

    def read_verified(*a, **kw):
        seen.append(("read", db.session().in_transaction()))
        return real_read(*a, **kw)

    def reencode(data):
        seen.append(("reencode", db.session().in_transaction()))
        return real_reencode(data)

    monkeypatch.setattr(blobs, "read_verified", read_verified)
    monkeypatch.setattr(blobs, "_reencode", reencode)
    assert put(login("inspector_a"), jpeg_bytes()).status_code == 201
    assert seen == [("read", False), ("reencode", False)]


def test_upload_finished_meanwhile_by_another_request_is_not_stored_twice(login, db, monkeypatch):
    from server.services import blobs

    c = login("inspector_a")
    data = jpeg_bytes()
    real_reencode = blobs._reencode

    def reencode_while_another_upload_commits(raw):
        out = real_reencode(raw)
        db.session.add(Blob(sha256=sha(raw), mime="image/jpeg", size=len(out[0]), width=out[2], height=out[3],
                            stored_sha256=sha(out[0]), has_thumbnail=True))
        db.session.commit()
        return out

    monkeypatch.setattr(blobs, "_reencode", reencode_while_another_upload_commits)
    resp = put(c, data)
    assert resp.status_code == 200 and resp.get_json()["sha256"] == sha(data)
    assert db.session.query(Blob).count() == 1
    assert db.session.query(AuditEvent).filter_by(action="blob.upload").count() == 0


def test_upload_audit_names_the_uploader(login, db, world):
    put(login("inspector_a"), jpeg_bytes())
    event = db.session.query(AuditEvent).filter_by(action="blob.upload").one()
    assert (event.user_id, event.role) == (world.users["inspector_a"].id, "inspector")
    assert db.session.query(Blob).one().created_by_id == world.users["inspector_a"].id
