"""Whether a page bears a red round seal (公章), by a heuristic on its pixels.

Steps: a small copy of the page is taken to HSV, strongly red pixels are marked, nearby marks are
joined (a seal is a ring with text and a star, not one solid shape), and each joined blob is judged: a
seal is roughly as wide as tall, 8–45 % of the page's shorter side, and neither a solid disc nor a
thin stroke. A page without colour (a black and white scan) cannot show a red seal: "unknown".
"""

from __future__ import annotations

from collections import deque

from PIL import Image, ImageFilter

WORK_SIDE = 400
MIN_DIAMETER, MAX_DIAMETER = 0.08, 0.45
MIN_FILL, MAX_FILL = 0.06, 0.75


def _red_mask(page: Image.Image) -> tuple[Image.Image, bool]:
    small = page.convert("RGB")
    small.thumbnail((WORK_SIDE, WORK_SIDE))
    hue, sat, val = small.convert("HSV").split()
    colour = sat.getextrema()[1] > 60
    red = hue.point(lambda h: 255 if h <= 14 or h >= 234 else 0)
    strong = sat.point(lambda s: 255 if s >= 70 else 0)
    bright = val.point(lambda v: 255 if v >= 70 else 0)
    mask = Image.composite(red, Image.new("L", small.size, 0), strong)
    mask = Image.composite(mask, Image.new("L", small.size, 0), bright)
    return mask, colour


def seal_state(page: Image.Image) -> str:
    """"present", "absent", or "unknown" (no colour on the page)."""
    mask, colour = _red_mask(page)
    if not colour:
        return "unknown"
    joined = mask.filter(ImageFilter.MaxFilter(5))
    width, height = joined.size
    marks = joined.load()
    assert marks is not None
    side = min(width, height)
    seen = bytearray(width * height)
    for y0 in range(height):
        for x0 in range(width):
            if seen[y0 * width + x0] or not marks[x0, y0]:
                continue
            left, top, right, bottom, count = x0, y0, x0, y0, 0
            queue = deque([(x0, y0)])
            seen[y0 * width + x0] = 1
            while queue:
                x, y = queue.popleft()
                count += 1
                left, right, top, bottom = min(left, x), max(right, x), min(top, y), max(bottom, y)
                for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
                    if 0 <= nx < width and 0 <= ny < height and not seen[ny * width + nx] and marks[nx, ny]:
                        seen[ny * width + nx] = 1
                        queue.append((nx, ny))
            w, h = right - left + 1, bottom - top + 1
            round_enough = 0.7 <= w / h <= 1.4
            sized = MIN_DIAMETER * side <= max(w, h) <= MAX_DIAMETER * side
            if round_enough and sized and MIN_FILL <= count / (w * h) <= MAX_FILL:
                return "present"
    return "absent"
