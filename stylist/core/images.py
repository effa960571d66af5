"""Safe image loading: any upload or file becomes an upright, size-capped RGB image or one clear error.

Every place that opens a user's image (captioner, app, contact sheet, training cache) goes through
`load_image`, so EXIF rotation, odd colour modes, huge or hostile files and broken bytes are handled once.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from stylist.core.errors import StylistError

MAX_PIXELS = 64_000_000  # declared size above this is refused before decoding (decompression bombs)
MAX_SIDE = 1024  # decoded images are shrunk to at most this side: captions never need more

# PIL itself refuses images over twice this while opening; our own check below gives the one-line error.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def load_image(source: str | os.PathLike | bytes, name: str | None = None, max_side: int = MAX_SIDE) -> Image.Image:
    """Open a path or raw bytes as an RGB image no larger than `max_side`, upright per its EXIF tag.

    Raises StylistError (naming the file) for missing, empty, non-image, truncated or oversized input.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        name = name or "uploaded image"
        data = bytes(source)
    else:
        path = Path(source)
        name = name or str(path)
        if not path.is_file():
            raise StylistError(f"{name}: no such file")
        data = path.read_bytes()
    if not data:
        raise StylistError(f"{name}: empty file")
    image = _decode(io.BytesIO(data), name, max_side)
    image = to_rgb(_upright(image))
    image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return image


def _decode(fp: io.BytesIO, name: str, max_side: int) -> Image.Image:
    """Decode fully now (Pillow is lazy), so truncation shows up here and not deep in the model."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(fp)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise StylistError(f"{name}: {width}x{height} pixels is over the limit of {MAX_PIXELS:,} "
                                   "(refused as a possible decompression bomb)")
            image.draft(image.mode, (max_side, max_side))  # JPEG: decode at reduced scale, much faster
            image.load()
    except StylistError:
        raise
    except UnidentifiedImageError:
        raise StylistError(f"{name}: not an image file (unrecognised format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise StylistError(f"{name}: too many pixels (refused as a possible decompression bomb)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise StylistError(f"{name}: cannot decode image ({exc})") from None
    return image


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a corrupt EXIF block is ignored rather than failing the photo."""
    try:
        return ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, TypeError, KeyError):
        return image


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB from any mode: transparency is flattened onto white (how product shots are shown)."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit / float greyscale: stretch to 8 bits
        array = np.asarray(image, dtype=np.float64)
        low, high = float(array.min()), float(array.max())
        array = (array - low) / (high - low or 1.0) * 255.0
        return Image.fromarray(array.astype(np.uint8)).convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV
