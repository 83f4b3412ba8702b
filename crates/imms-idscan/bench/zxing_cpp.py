"""Reads the photos that `examples/readrate.rs` saved with zxing-cpp's Python binding, for a
side-by-side figure on the same images: same EXIF handling (honoured), PDF417 only, and the
timing includes the JPEG decode, as `imms_idscan::scan`'s does.

    python bench/zxing_cpp.py DIR
"""
import pathlib
import statistics
import sys
import time

import zxingcpp
from PIL import Image, ImageOps


def main(folder: str) -> None:
    photos = sorted(pathlib.Path(folder).glob("card-*.jpg"))
    right = wrong = unread = 0
    times = []
    for p in photos:
        # Bytes, not read_text: universal newlines would turn the payload's CR into LF.
        expected = p.with_suffix(".txt").read_bytes().decode("utf-8")
        t = time.perf_counter()
        img = ImageOps.exif_transpose(Image.open(p)).convert("L")
        found = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.PDF417)
        times.append((time.perf_counter() - t) * 1000)
        if not found:
            unread += 1
        elif found[0].bytes.decode("latin-1") == expected:  # PDF417 byte mode is Latin-1
            right += 1
        else:
            wrong += 1
    times.sort()
    n = len(photos)
    p95 = times[round((n - 1) * 0.95)]
    print(
        f"zxing-cpp: "
        f"photos={n} right={right} wrong={wrong} unread={unread} "
        f"read_rate={100 * right / n:.1f}% median_ms={statistics.median(times):.0f} "
        f"p95_ms={p95:.0f} max_ms={times[-1]:.0f}"
    )


if __name__ == "__main__":
    main(sys.argv[1])
