"""Draw a watched episode as images: the level beside the text of each step.

One image per state: the first state and the state after every step, so an
episode of ``n`` steps gives ``n + 1`` images. On the left, MiniGrid's picture of
the level for BabyAI-Text, or the observation (a board, a room) as text for the
other games; on the right the goal, the observation's sentences, the likeliest
actions with their probability (the chosen one marked), the value and the reward.
Pillow draws them; :mod:`glam_apps.watching.recording` writes them as a GIF.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from glam_apps.watching.stepping import StepRecord, View

__all__ = ["episode_frames", "same_size"]

FONT_SIZE = 13
LINE_HEIGHT = 17
PAD = 10
#: Lines of text each panel holds; what does not fit ends with "...".
PANEL_LINES = 17
TEXT_PANEL_WIDTH = 430
#: Width of the left panel when it shows the observation as text (games without a grid).
OBSERVATION_PANEL_WIDTH = 360
BAR_WIDTH = 50

BACKGROUND = (255, 255, 255)
INK = (30, 30, 30)
DIM = (110, 110, 110)
CHOSEN = (0, 115, 0)
BAR = (170, 205, 250)
GOOD = (0, 130, 0)
BAD = (190, 0, 0)
PANEL_EDGE = (200, 200, 200)

Line = tuple[str, tuple[int, int, int], float | None]
"""A line of the text panel: its text, its colour, and a probability bar (or ``None``)."""


@functools.cache
def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans Mono as matplotlib ships it (monospace keeps boards aligned)."""
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSansMono.ttf"
    if path.is_file():
        return ImageFont.truetype(str(path), FONT_SIZE)
    return ImageFont.load_default(FONT_SIZE)  # pragma: no cover - matplotlib ships the font


@functools.cache
def _char_width() -> float:
    return float(_font().getlength("M")) or FONT_SIZE * 0.6


def _wrap(text: str, width_px: int, indent: str = "") -> list[str]:
    """``text`` wrapped to ``width_px``, its own line breaks kept."""
    columns = max(8, int((width_px - 2 * PAD) // _char_width()))
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        lines.extend(
            textwrap.wrap(paragraph, columns, subsequent_indent=indent, drop_whitespace=True)
            or [""]
        )
    return lines


def _sentences(observation: str) -> str:
    """BabyAI's sentences one per line ("You see ..., You see ..." -> lines)."""
    return observation.replace(", You ", "\nYou ")


def _step_lines(
    record: StepRecord | None, view: View, last: StepRecord | None, top: int, with_obs: bool
) -> list[Line]:
    """The right panel of one state: ``record`` decides from it, ``last`` led to it."""
    step = 0 if last is None else last.step + 1
    source = record if record is not None else last
    assert source is not None
    lines: list[Line] = [
        (f"episode {source.episode + 1}, seed {source.seed}, step {step}", INK, None)
    ]
    lines += [(text, INK, None) for text in _wrap(f"goal: {view.goal}", TEXT_PANEL_WIDTH, "  ")]
    if with_obs:
        observation = _sentences(view.observation) or "(nothing in view)"
        lines += [(text, DIM, None) for text in _wrap(observation, TEXT_PANEL_WIDTH, "  ")]
    lines.append(("", INK, None))
    if record is not None:
        decision = record.decision
        lines.append(("actions:", INK, None))
        for index, text, probability in decision.top(top):
            chosen = index == decision.action
            mark = ">" if chosen else " "
            lines.append(
                (f"{mark} {probability:4.2f} {text}", CHOSEN if chosen else INK, probability)
            )
        value = "-" if decision.value is None else f"{decision.value:.2f}"
        lines.append(("", INK, None))
        lines.append((f"value {value}   reward {record.reward:.2f}", INK, None))
    else:
        assert last is not None
        if last.success:
            outcome, colour = f"success in {step} steps", GOOD
        elif last.truncated:
            outcome, colour = f"time is up after {step} steps", BAD
        else:
            outcome, colour = f"episode over after {step} steps", BAD
        lines.append((outcome, colour, None))
        lines.append((f"return {last.episode_return:.2f}", INK, None))
    return lines


def _draw_lines(draw: ImageDraw.ImageDraw, lines: Sequence[Line], x: int, width: int) -> None:
    font = _font()
    shown = list(lines[:PANEL_LINES])
    if len(lines) > PANEL_LINES:
        shown[-1] = ("...", DIM, None)
    columns = max(8, int((width - 2 * PAD) // _char_width()))
    for row, (text, colour, bar) in enumerate(shown):
        y = PAD + row * LINE_HEIGHT
        left = x + PAD
        if bar is not None:
            length = round(bar * BAR_WIDTH)
            if length > 0:
                draw.rectangle((left, y + 2, left + length, y + LINE_HEIGHT - 3), fill=BAR)
            left += BAR_WIDTH + 6
        room = columns - (BAR_WIDTH + 6) // int(_char_width()) if bar is not None else columns
        if len(text) > room:
            text = text[: max(room - 3, 1)] + "..."
        draw.text((left, y), text, font=font, fill=colour)


def _compose(view: View, lines: Sequence[Line]) -> Image.Image:
    """The level (or the observation's text) on the left, ``lines`` on the right."""
    height = 2 * PAD + PANEL_LINES * LINE_HEIGHT
    if view.frame is not None:
        left = Image.fromarray(view.frame).convert("RGB")
        height = max(height, left.height)
    else:
        left = Image.new("RGB", (OBSERVATION_PANEL_WIDTH, height), BACKGROUND)
        text = _wrap(view.observation or "(nothing in view)", OBSERVATION_PANEL_WIDTH)
        _draw_lines(ImageDraw.Draw(left), [(t, INK, None) for t in text], 0, left.width)
    image = Image.new("RGB", (left.width + TEXT_PANEL_WIDTH, height), BACKGROUND)
    image.paste(left, (0, (height - left.height) // 2))
    draw = ImageDraw.Draw(image)
    draw.line((left.width, 0, left.width, height), fill=PANEL_EDGE)
    _draw_lines(draw, lines, left.width, TEXT_PANEL_WIDTH)
    return image


def episode_frames(records: Sequence[StepRecord], *, top: int = 5) -> list[Image.Image]:
    """The ``len(records) + 1`` images of one episode (every state, the last one included)."""
    if not records:
        return []
    images = []
    with_obs = records[0].view.frame is not None  # else the observation is the left panel
    previous: StepRecord | None = None
    for record in records:
        lines = _step_lines(record, record.view, previous, top, with_obs)
        images.append(_compose(record.view, lines))
        previous = record
    last = records[-1]
    images.append(_compose(last.after, _step_lines(None, last.after, last, top, with_obs)))
    return images


def same_size(images: Sequence[Image.Image]) -> list[Image.Image]:
    """``images`` padded (white, centred) to the largest width and height among them."""
    if not images:
        return []
    width = max(image.width for image in images)
    height = max(image.height for image in images)
    padded = []
    for image in images:
        if image.size == (width, height):
            padded.append(image)
            continue
        canvas = Image.new("RGB", (width, height), BACKGROUND)
        canvas.paste(image, ((width - image.width) // 2, (height - image.height) // 2))
        padded.append(canvas)
    return padded
