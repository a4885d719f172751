"""Draw the app icons (192, 512 and a maskable 512) with Pillow: run once, commit the PNGs.

    python pwa/icons/make_icons.py
"""
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
RED = (183, 28, 28)
WHITE = (255, 255, 255)


def flame(draw, cx, cy, s):
    """A simple flame in a shield: readable at 48 px, nothing to license."""
    draw.polygon([(cx, cy - s), (cx + 0.62 * s, cy - 0.2 * s), (cx + 0.5 * s, cy + 0.55 * s),
                  (cx, cy + 0.8 * s), (cx - 0.5 * s, cy + 0.55 * s), (cx - 0.62 * s, cy - 0.2 * s)], fill=WHITE)
    draw.polygon([(cx, cy - 0.55 * s), (cx + 0.3 * s, cy + 0.05 * s), (cx + 0.22 * s, cy + 0.45 * s),
                  (cx, cy + 0.6 * s), (cx - 0.22 * s, cy + 0.45 * s), (cx - 0.3 * s, cy + 0.05 * s)], fill=RED)


def icon(size, maskable):
    img = Image.new("RGB", (size, size), RED)
    draw = ImageDraw.Draw(img)
    if not maskable:
        img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
        draw = ImageDraw.Draw(img)
        draw.rounded_rectangle([0, 0, size - 1, size - 1], radius=size // 6, fill=RED)
    # Maskable icons keep the drawing inside the central 80 % safe zone.
    flame(draw, size / 2, size / 2, size * (0.28 if maskable else 0.34))
    return img


if __name__ == "__main__":
    icon(192, False).save(HERE / "icon-192.png", optimize=True)
    icon(512, False).save(HERE / "icon-512.png", optimize=True)
    icon(512, True).save(HERE / "icon-maskable-512.png", optimize=True)
