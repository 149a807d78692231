"""Waterfall charts: how a family's highest-risk child gets from the average child's score to their own.

Bars are SHAP contributions (log-odds) of the largest factors, the rest summed as "all other factors"; the
labels are the feature dictionary's plain English with the child's values, and the two ends are shown as
calibrated probabilities, so a reader needs neither SHAP nor log-odds. Drawn with Pillow and matplotlib's
bundled DejaVu font: a list run draws hundreds of these, and matplotlib's text layout costs ~0.4 s a chart on
a small machine against ~10 ms here.
"""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from serving.explain import Describe, _render

UP, DOWN, ENDS, INK, GRID = (192, 57, 43), (36, 113, 163), (127, 140, 141), (27, 27, 27), (200, 200, 200)
WIDTH, LABEL_W, ROW_H, TOP, BOTTOM, PAD = 860, 440, 26, 46, 44, 16


_local = threading.local()  # a FreeType face must not be shared between threads: one set of fonts per thread


@lru_cache(maxsize=1)
def _font_path() -> str | None:
    try:
        import matplotlib

        path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
        return str(path) if path.is_file() else None
    except ImportError:
        return None


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    fonts = _local.__dict__.setdefault("fonts", {})
    if size not in fonts:
        path = _font_path()
        fonts[size] = ImageFont.truetype(path, size) if path else ImageFont.load_default()
    return fonts[size]


def _pct(p: float) -> str:
    return "<1%" if 0 < p < 0.005 else f"{100 * p:.0f}%"


def waterfall_png(shap: np.ndarray, values: np.ndarray, feature_names: Sequence[str], base_value: float,
                  target: str | Path, *, calibrate: Callable[[float], float], title: str,
                  describe: Describe, top: int = 8) -> Path:
    """Write a horizontal waterfall PNG for one row of SHAP values (one child) to `target`."""
    shap = np.asarray(shap, float)
    order = [j for j in np.argsort(-np.abs(shap), kind="stable") if feature_names[j] != "hub_code"][:top]
    order = [j for j in order if shap[j] != 0]
    rest = float(shap.sum() - shap[order].sum())
    labels, deltas = [], []
    for j in order:
        text = _render(describe, feature_names[j], values[j]) or feature_names[j]
        labels.append(textwrap.shorten(text[:1].upper() + text[1:], 62, placeholder="…"))
        deltas.append(float(shap[j]))
    if abs(rest) > 1e-9:
        labels.append("All other factors")
        deltas.append(rest)
    margin = base_value + float(shap.sum())
    steps = np.cumsum([base_value, *deltas])
    rows = [(f"Start: a typical child ({_pct(calibrate(base_value))})", 0.0, base_value, ENDS)]
    rows += [(lab, s - d, d, UP if d > 0 else DOWN) for lab, s, d in zip(labels, steps[1:], deltas, strict=True)]
    rows.append((f"This child ({_pct(calibrate(margin))})", 0.0, margin, ENDS))

    # the ends are positions, not amounts: drawn as markers, and the scale covers only the path between them
    lo, hi = min(base_value, margin, *steps), max(base_value, margin, *steps)
    span = (hi - lo) or 1.0
    x0, x1 = LABEL_W + PAD, WIDTH - PAD

    def px(v: float) -> float:
        return x0 + (v - lo) / span * (x1 - x0)

    height = TOP + ROW_H * len(rows) + BOTTOM
    img = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(img)
    small, normal, bold = _font(11), _font(12), _font(13)
    draw.text((PAD, 14), textwrap.shorten(title, 110, placeholder="…"), fill=INK, font=bold)
    for x in (px(base_value), px(margin)):
        draw.line([(x, TOP), (x, TOP + ROW_H * len(rows))], fill=GRID, width=1)
    for k, (label, start, width, colour) in enumerate(rows):
        y = TOP + k * ROW_H
        if colour == ENDS:
            x = px(start + width)
            draw.rectangle([x - 3, y + 5, x + 3, y + ROW_H - 5], fill=colour)
        else:
            a, b = sorted((px(start), px(start + width)))
            draw.rectangle([a, y + 5, max(b, a + 1), y + ROW_H - 5], fill=colour)
        tw = draw.textlength(label, font=normal)
        draw.text((LABEL_W - tw, y + 6), label, fill=INK, font=normal)
    foot = "Red bars push the risk up, blue bars pull it down (lengths on the model's log-odds score scale)."
    draw.text((PAD, height - BOTTOM + 14), foot, fill=INK, font=small)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    img.save(target, format="PNG", compress_level=1)
    return target
