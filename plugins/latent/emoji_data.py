"""The training pictures of the built-in Emoji VAE: Noto Color Emoji glyphs at 64×64 on white.

Used only by ``recipe.py`` (run by hand); it needs fontTools and Pillow but not torch, and the
app never imports it. The font comes from the Debian package ``fonts-noto-color-emoji``
(2.042-0+deb12u1, SIL Open Font License 1.1); it is read here, never shipped.

Every code point in the font's cmap that is an emoji in its own right is rendered from the
font's colour bitmap strike (109 px, bitmaps 136×128), centred on a white square of fixed size
(so a small glyph stays small, as the font drew it), and reduced to 64×64 with Lanczos. Code
points that only build sequences (ZWJ, variation selectors, tags, keycap, skin-tone modifiers,
regional-indicator letters) and the ASCII keycap bases are left out, as is any glyph that
renders empty. The font's private-use code points (Google's legacy mappings of a few flags and
the keycaps) are kept: they are whole pictures. The result is cached as an .npz so a rerun starts training at once.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
STRIKE = 109  # the font's only bitmap size: Pillow renders CBDT glyphs at exactly this size
CANVAS = 136  # the strike's bitmaps are 136×128: a square that holds every glyph unscaled
SIZE = 64
VALIDATION_PERCENT = 10

# Code points that are parts of sequences, not pictures of their own.
SKIPPED_RANGES = [
    (0x0000, 0x007F),  # ASCII: NUL, CR, space and the keycap bases # * 0-9
    (0x200D, 0x200D),  # zero-width joiner
    (0x20E3, 0x20E3),  # combining enclosing keycap
    (0xFE0E, 0xFE0F),  # variation selectors (text / emoji presentation)
    (0x1F1E6, 0x1F1FF),  # regional indicator letters (flags are pairs of them)
    (0x1F3FB, 0x1F3FF),  # skin-tone modifiers (they render as colour swatches)
    (0xE0000, 0xE007F),  # tag characters (subdivision flags)
]


def font_version(font: Path = FONT) -> str:
    from fontTools.ttLib import TTFont

    names = TTFont(str(font), lazy=True)["name"]
    return str(names.getDebugName(5))


def emoji_codepoints(font: Path = FONT) -> list[int]:
    """The font's single code points that are emoji of their own, in code point order."""
    from fontTools.ttLib import TTFont

    cmap = TTFont(str(font), lazy=True).getBestCmap()
    return [cp for cp in sorted(cmap) if not any(lo <= cp <= hi for lo, hi in SKIPPED_RANGES)]


def render(codepoint: int, font) -> np.ndarray | None:
    """One glyph, centred on white, as uint8 [64, 64, 3]; None when it renders empty."""
    from PIL import Image, ImageDraw

    # Draw on a roomy transparent sheet and crop to the ink: the glyph's own bitmap box,
    # whatever its bearings.
    sheet = Image.new("RGBA", (2 * CANVAS, 2 * CANVAS), (255, 255, 255, 0))
    ImageDraw.Draw(sheet).text((CANVAS // 2, CANVAS // 2), chr(codepoint), font=font, embedded_color=True)
    box = sheet.getchannel("A").getbbox()
    if box is None:
        return None
    glyph = sheet.crop(box)
    side = max(CANVAS, glyph.width, glyph.height)
    layer = Image.new("RGBA", (side, side), (255, 255, 255, 0))
    layer.paste(glyph, ((side - glyph.width) // 2, (side - glyph.height) // 2))
    # Composite onto white before resizing: Lanczos on straight (not premultiplied) RGBA would
    # mix the colour of the transparent pixels into the glyph's edges.
    white = Image.new("RGBA", layer.size, (255, 255, 255, 255))
    picture = Image.alpha_composite(white, layer).convert("RGB")
    return np.asarray(picture.resize((SIZE, SIZE), Image.Resampling.LANCZOS), dtype=np.uint8)


def build(font_path: Path = FONT) -> tuple[np.ndarray, np.ndarray]:
    from PIL import ImageFont

    font = ImageFont.truetype(str(font_path), STRIKE)
    images, kept = [], []
    for cp in emoji_codepoints(font_path):
        picture = render(cp, font)
        if picture is not None:
            images.append(picture)
            kept.append(cp)
    return np.stack(images), np.asarray(kept, dtype=np.int32)


def load(cache: Path, font_path: Path = FONT) -> tuple[np.ndarray, np.ndarray, str]:
    """(images uint8 [N, 64, 64, 3], code points int32 [N], font version), cached in ``cache``."""
    if not font_path.exists():
        raise SystemExit(f"{font_path} is missing: apt-get install fonts-noto-color-emoji")
    version = font_version(font_path)
    if cache.exists():
        saved = np.load(cache)
        if str(saved["font_version"]) == version and int(saved["size"]) == SIZE:
            return saved["images"], saved["codepoints"], version
    images, codepoints = build(font_path)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, images=images, codepoints=codepoints, font_version=version, size=SIZE)
    return images, codepoints, version


def is_validation(codepoint: int) -> bool:
    """A fixed ~10 % of the glyphs, chosen by a CRC of the code point (not by its neighbours,
    which are often the same picture in other colours)."""
    return zlib.crc32(f"U+{codepoint:04X}".encode()) % 100 < VALIDATION_PERCENT


def split(codepoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and the validation glyphs."""
    held = np.array([is_validation(int(cp)) for cp in codepoints])
    return np.flatnonzero(~held), np.flatnonzero(held)
