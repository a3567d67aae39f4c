"""Re-encodes a JPEG from stdin as an HEVC-coded HEIC on stdout, as an iPhone writes it, keeping its EXIF and XMP.

Run with pillow-heif on the path (test/helpers/heic.ts provisions it from PyPI): its wheels carry the
x265 encoder that neither sharp's prebuilt libvips nor any npm package has.
"""
import io
import sys

import pillow_heif
from PIL import Image

pillow_heif.register_heif_opener()
source = Image.open(io.BytesIO(sys.stdin.buffer.read()))
out = io.BytesIO()
source.save(out, format="HEIF", quality=int(sys.argv[1]) if len(sys.argv) > 1 else 80,
            exif=source.info.get("exif"), xmp=source.info.get("xmp"))
sys.stdout.buffer.write(out.getvalue())
