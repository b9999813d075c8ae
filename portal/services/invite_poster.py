"""The invite poster (邀请海报): a phone-sized PNG with the invite link as a QR code, the invite
code and a line of text in the reader's language, drawn with qrcode and Pillow.

Chinese text needs a CJK font from the system (Debian: fonts-noto-cjk); POSTER_FONT in the
config names another file. Without one the poster is still drawn, with Pillow's built-in font.
"""

import io
import os
from functools import lru_cache

import qrcode
from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 750, 1200
BACKGROUND = (255, 247, 237)
ACCENT = (234, 88, 12)
INK = (31, 41, 55)
MUTED = (107, 114, 128)
QR_SIZE = 440
MARGIN = 40
FONT_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


@lru_cache(maxsize=4)
def font_file(configured: str | None = None) -> tuple[str, int] | None:
    """A CJK font file and the index of its Simplified Chinese face, or None when none exists."""
    for path in ((configured,) if configured else ()) + FONT_FILES:
        if path and os.path.exists(path):
            return path, _simplified_face(path)
    return None


def _simplified_face(path: str) -> int:
    """The index of the SC face in a font collection (Noto CJK holds JP, KR, SC, TC, HK)."""
    for index in range(10):
        try:
            family = ImageFont.truetype(path, 12, index=index).getname()[0]
        except OSError:
            break
        if " SC" in family or "Micro Hei" in family or "Zen Hei" in family:
            return index
    return 0


def _font(found: tuple[str, int] | None, size: int) -> ImageFont.FreeTypeFont:
    if found is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(found[0], size, index=found[1])


def _centred(draw: ImageDraw.ImageDraw, y: int, text: str, found, size: int, fill) -> None:
    """Draw one line centred, in a smaller size if it would not fit the width."""
    font = _font(found, size)
    while size > 16 and draw.textlength(text, font=font) > WIDTH - MARGIN * 2:
        size -= 2
        font = _font(found, size)
    width = draw.textlength(text, font=font)
    draw.text(((WIDTH - width) / 2, y), text, font=font, fill=fill)


def _qr(link: str) -> Image.Image:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    code.add_data(link)
    code.make(fit=True)
    image = code.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    return image.resize((QR_SIZE, QR_SIZE), Image.Resampling.NEAREST)


def render(
    site_name: str,
    headline: str,
    caption: str,
    code_line: str,
    link: str,
    configured_font: str | None = None,
) -> bytes:
    """The poster as PNG bytes; every text is passed in already translated."""
    found = font_file(configured_font)
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, 220), fill=ACCENT)
    _centred(draw, 60, site_name, found, 72, (255, 255, 255))
    _centred(draw, 290, headline, found, 44, INK)
    card = ((WIDTH - QR_SIZE) // 2 - 30, 380, (WIDTH + QR_SIZE) // 2 + 30, 380 + QR_SIZE + 60)
    draw.rounded_rectangle(card, radius=24, fill=(255, 255, 255))
    image.paste(_qr(link), ((WIDTH - QR_SIZE) // 2, 410))
    _centred(draw, 930, code_line, found, 48, ACCENT)
    _centred(draw, 1010, caption, found, 32, MUTED)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
