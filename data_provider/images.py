"""Pictures every tool writes: float images to bytes, pictures tiled into grids,
strips and labelled sheets, PNG and GIF files.

The one home of these helpers: ``evaluation/``, ``visualization/``,
``training/`` summaries and ``docs/`` scripts all draw with them. Arrays are
``[..., H, W, C]``; pictures handed to PIL are uint8 ``[H, W, 3]``. Files are
written under a temporary name and renamed into place when complete.
"""
import numpy as np

from data_provider import cli


def to_uint8(images):
    """uint8 of float images in [0, 1] (clipped, rounded to the nearest level)."""
    return (np.clip(np.asarray(images, np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def enlarge(picture, k):
    """``picture`` ``[..., H, W, C]`` enlarged ``k`` times by repeating pixels (nearest
    neighbour)."""
    picture = np.asarray(picture)
    return np.repeat(np.repeat(picture, k, axis=-3), k, axis=-2)


def tile(pictures, axis, gap=0, fill=1.0):
    """Arrays of one shape put one after the other along ``axis``, with ``gap``-wide bars of
    ``fill`` between them (``axis=-2`` side by side, ``axis=-3`` one above the other)."""
    pictures = [np.asarray(p) for p in pictures]
    if not gap:
        return np.concatenate(pictures, axis)
    shape = list(pictures[0].shape)
    shape[axis] = gap
    bar = np.full(shape, fill, pictures[0].dtype)
    parts = [pictures[0]]
    for picture in pictures[1:]:
        parts += [bar, picture]
    return np.concatenate(parts, axis)


def grid(rows, gap=0, fill=1.0):
    """One picture ``[R (H + gap) - gap, N (W + gap) - gap, C]`` of ``rows``, each a sequence
    of N pictures ``[H, W, C]``, with ``gap``-wide bars of ``fill`` between them."""
    return tile([tile(list(row), -2, gap, fill) for row in rows], -3, gap, fill)


def sheet(pictures, column_labels=(), row_labels=(), *, top=4, left=4, gap=0, font_size=13,
          header_rule=False):
    """PIL image of ``pictures[row][col]`` (uint8, one size) on white, ``top`` pixels above for
    the column labels and ``left`` pixels at the left for the row labels (centred), ``gap``
    pixels after every picture; ``header_rule`` draws a grey line under the header."""
    from PIL import Image, ImageDraw, ImageFont

    h, w = np.asarray(pictures[0][0]).shape[:2]
    rows, cols = len(pictures), len(pictures[0])
    image = Image.new("RGB", (left + cols * (w + gap), top + rows * (h + gap)), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(font_size)
    for c, text in enumerate(column_labels):
        draw.text((left + c * (w + gap) + w // 2, top // 2), text, fill="black", font=font,
                  anchor="mm")
    for r, text in enumerate(row_labels):
        draw.text((left // 2, top + r * (h + gap) + h // 2), text, fill="black", font=font,
                  anchor="mm")
    for r, row in enumerate(pictures):
        for c, picture in enumerate(row):
            image.paste(Image.fromarray(np.asarray(picture)),
                        (left + c * (w + gap), top + r * (h + gap)))
    if header_rule:
        draw.line([(left, top - 1), (image.width, top - 1)], fill=(200, 200, 200))
    return image


def labelled_grid(pictures, column_labels, row_labels, pad=None):
    """uint8 array of square uint8 pictures ``[S, S, 3]`` (``pictures[row][col]``) under a
    header of column labels and beside the row labels, in a margin of ``pad`` pixels
    (default ``max(16, S // 8)``) with labels 0.6 of it high."""
    side = np.asarray(pictures[0][0]).shape[0]
    pad = pad if pad is not None else max(16, side // 8)
    return np.asarray(sheet(pictures, column_labels, row_labels, top=pad, left=pad,
                            font_size=max(10, int(pad * 0.6)), header_rule=True))


def caption(picture, text):
    """PIL image of a uint8 picture with ``text`` printed in its lower left corner."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.fromarray(picture)
    size = max(10, picture.shape[0] // 16)
    ImageDraw.Draw(image).text((size // 2, picture.shape[0] - size // 2), text, fill="black",
                               font=ImageFont.load_default(size), anchor="ld")
    return image


def _pil(picture):
    from PIL import Image

    return picture if isinstance(picture, Image.Image) else Image.fromarray(np.asarray(picture))


def save_png(picture, path, **options):
    """Write a uint8 array or PIL image as a PNG at ``path``; returns ``path``."""
    with cli.atomic_write(path, "wb") as f:
        _pil(picture).save(f, format="PNG", **options)
    return path


def write_gif(frames, path, duration_ms=120, **options):
    """Write frames (uint8 arrays or PIL images) as a GIF looping forever, ``duration_ms``
    per frame; returns ``path``."""
    frames = [_pil(f) for f in frames]
    with cli.atomic_write(path, "wb") as f:
        frames[0].save(f, format="GIF", save_all=True, append_images=frames[1:],
                       duration=duration_ms, loop=0, **options)
    return path
