"""A ZIP of many stored videos, produced while it is sent: memory stays at about one chunk.

`zipfile` writes to an unseekable sink (it then puts each entry's sizes and CRC in a data
descriptor after the data), and the sink hands over what was written after every chunk, so
nothing is buffered beyond the chunk being copied. Entries are stored, not compressed: the
videos are already compressed.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator


class _Sink(io.RawIOBase):
    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def stream_zip(entries: Iterable[tuple[str, Iterable[bytes]]]) -> Iterator[bytes]:
    """Yield the bytes of a ZIP holding each `(name, chunks)` entry, in order."""
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, chunks in entries:
            with archive.open(name, mode="w", force_zip64=True) as entry:
                for chunk in chunks:
                    entry.write(chunk)
                    yield sink.take()
            yield sink.take()
    yield sink.take()
