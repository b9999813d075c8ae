"""Code 128 barcodes as inline SVG, drawn on the server for printed labels."""

import re
from xml.etree import ElementTree

import barcode
from barcode.writer import SVGWriter
from markupsafe import Markup

SVG = "{http://www.w3.org/2000/svg}"
_MM = re.compile(r"([0-9.]+)mm")
# The page's CSP forbids style attributes, so fills are written as presentation attributes.
_FILL = re.compile(r"fill:\s*([a-z]+)")


def _mm(value: str) -> float:
    match = _MM.fullmatch(value)
    if match is None:
        raise ValueError(f"unexpected SVG length {value!r}")
    return float(match.group(1))


def code128_svg(value: str, height_mm: float = 15.0, label: str = "") -> Markup:
    """An <svg> element (no XML prolog, no style attributes) of `value` as Code 128, sized in mm.

    Raises ValueError for characters Code 128 cannot encode.
    """
    writer = SVGWriter()
    code = barcode.Code128(value, writer=writer)
    document = code.render(
        {"write_text": False, "module_height": height_mm, "quiet_zone": 2.5, "module_width": 0.3}
    )
    root = ElementTree.fromstring(document)  # noqa: S314 - the library's own output
    width, height = _mm(root.get("width")), _mm(root.get("height"))
    bars = []
    for rect in root.iter(f"{SVG}rect"):
        fill = _FILL.search(rect.get("style", ""))
        if fill is None or fill.group(1) != "black":
            continue
        x, y = _mm(rect.get("x")), _mm(rect.get("y"))
        w, h = _mm(rect.get("width")), _mm(rect.get("height"))
        bars.append(f'<rect x="{x:.3f}" y="{y:.3f}" width="{w:.3f}" height="{h:.3f}"/>')
    title = Markup.escape(label or value)
    return Markup(  # noqa: S704 - numbers we formatted and an escaped title
        f'<svg xmlns="http://www.w3.org/2000/svg" class="barcode" role="img"'
        f' width="{width:.3f}mm" height="{height:.3f}mm" viewBox="0 0 {width:.3f} {height:.3f}"'
        f' data-barcode="{Markup.escape(value)}"><title>{title}</title>'
        f'<rect width="100%" height="100%" fill="white"/><g fill="black">{"".join(bars)}</g></svg>'
    )
