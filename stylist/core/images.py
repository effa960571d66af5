"""Safe image loading: any upload or file becomes an upright, size-capped RGB image or one clear error.

Every place that opens a user's image (captioner, app, contact sheet, training cache) goes through
`load_image`, so EXIF rotation, odd colour modes, huge or hostile files and broken bytes are handled once.
"""

from __future__ import annotations

import contextlib
import ctypes
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

    Raises StylistError (naming the file) for missing, empty, non-image, truncated or oversized input. The only
    full-size buffer is the decoder's own (a JPEG is decoded at reduced scale): it is shrunk a strip at a time
    before any conversion, so the worst image under the limit costs its decoded size once, not several copies,
    and the memory is handed back to the OS afterwards.
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
    large = image.width * image.height > RELEASE_PIXELS
    image = _shrink(image, max(1, max(image.size) // max_side))
    if large:
        release_memory()
    image = to_rgb(_upright(image))
    image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return image


def decoded_pixels(source: str | os.PathLike, name: str | None = None, max_side: int = MAX_SIDE) -> int:
    """How many pixels decoding this file takes (a JPEG's reduced scale counted), read from its header alone:
    what a request's pixel budget counts before anything is decoded. 0 for what is no image (load_image says why)."""
    try:
        with Image.open(source) as image:
            image.draft(image.mode, (max_side, max_side))
            return image.width * image.height
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        return 0


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


# what `_shrink` works in: modes Image.reduce takes (others are converted a strip at a time)
_REDUCIBLE = {"L", "LA", "RGB", "RGBA", "I", "F", "CMYK"}
_WORKING = {"P": "RGBA", "PA": "RGBA", "1": "L", "I;16": "I", "I;16L": "I", "I;16B": "I", "I;16N": "I"}
RELEASE_PIXELS = 4_000_000  # after decoding more than this, freed memory is handed back to the OS


def _shrink(image: Image.Image, factor: int) -> Image.Image:
    """`image` reduced by an integer `factor` (box average), a strip of rows at a time, so no full-size copy is
    made: converting or flattening a 64-megapixel image whole would cost several times its decoded size."""
    if factor == 1:
        return image
    mode = image.mode if image.mode in _REDUCIBLE else _WORKING.get(image.mode, "RGB")
    width, height = image.size
    out = Image.new(mode, (-(-width // factor), -(-height // factor)))
    rows = factor * max(1, 512 // factor)  # a multiple of the factor: strips meet on whole output rows
    for top in range(0, height, rows):
        strip = image.crop((0, top, width, min(height, top + rows)))
        out.paste((strip if strip.mode == mode else strip.convert(mode)).reduce(factor), (0, top // factor))
    return out


def release_memory() -> None:
    """Hand freed heap memory back to the OS (glibc keeps large freed blocks otherwise, so one big photo would
    keep the process hundreds of MB larger for good); a no-op elsewhere."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


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
