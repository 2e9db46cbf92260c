"""Reading input files line by line — plain, gzip (`.gz`), xz (`.xz`), Zstandard (`.zst`, through
the `zstandard` package) or a zip archive holding one file (`.zip`, QuantConnect Lean's data
layout) — keeping every line
that precedes damage. Used by every reader of recorded files (replay files, funding and bar
histories, raw captures), so a damaged file behaves the same in `replay`, `convert` and `study`.

A compressed file that is truncated or corrupt (a download cut short, a disk error) still holds
readable lines before the break. `lines(path, damage)` yields each complete line (bytes, newline
kept) up to the break, then records one `Damage` — the file, the last complete line, the
uncompressed bytes read and the decompressor's reason — and stops; the caller processes what was
read and then reports the damage (`DamagedFile`: exit 1 with that one line). A line cut by the
break is never yielded: half a record is not a record. A `.zst` file cut short is found by its
missing end of frame (zstandard's own readers return the cut text as if it were whole); a flipped
byte inside is found only when the file carries content checksums (the `zstd` tool writes them by
default).
"""

import gzip
import io
import lzma
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

import zstandard

from arbflow.model.errors import ArbflowError

COMPRESSED: Final = {".gz": "gzip", ".xz": "xz", ".zst": "zstd", ".zip": "zip"}
# What the decompressors raise on a truncated or corrupt stream (gzip.BadGzipFile is an OSError).
_DAMAGE: Final = (EOFError, OSError, zlib.error, lzma.LZMAError, zipfile.BadZipFile, zstandard.ZstdError)
_CHUNK: Final = 1 << 16  # compressed bytes read at a time from a .zst file


@dataclass(frozen=True, slots=True)
class Damage:
    """Where a compressed file broke: after `line` complete lines, `offset` bytes of text."""

    path: Path
    line: int
    offset: int
    reason: str

    def message(self) -> str:
        """The one line the commands print (then exit 1)."""
        kind = COMPRESSED.get(self.path.suffix, "")
        return (f"{self.path}: damaged {kind} file: it breaks after line {self.line:,} (byte {self.offset:,} of "
                f"its text): {self.reason}; the {self.line:,} lines before the break were processed")


class DamagedFile(ArbflowError):
    """A file broke before its end; `damage` says where. Raised after the readable part was used."""

    def __init__(self, damage: list[Damage]) -> None:
        super().__init__("; ".join(d.message() for d in damage))
        self.damage = damage


class ArchiveError(ArbflowError, ValueError):
    """A .zip that is not one readable file (one line; the file readers refuse it as bad input)."""


def open_binary(path: Path) -> IO[bytes]:
    """The file for binary reading, un-gzipping `.gz`, un-xz-ing `.xz` and opening the one
    member of a `.zip` (`ArchiveError` when the archive holds more or fewer than one file, or
    is no readable zip: a truncated zip loses its directory, at its end, so no line of it is
    readable; a member whose data breaks mid-way is `Damage` like a .gz)."""
    if path.suffix == ".zip":
        return _zip_member(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    if path.suffix == ".xz":
        return lzma.open(path, "rb")
    if path.suffix == ".zst":
        return io.BufferedReader(_ZstdReader(open(path, "rb")))
    return open(path, "rb")


class _ZstdReader(io.RawIOBase):
    """The text of a `.zst` file, frame after frame (concatenated frames, as `zstd` appends
    them); EOFError when the file ends inside a frame, ZstdError on corrupt data."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw
        self._frame = zstandard.ZstdDecompressor().decompressobj()
        self._started = False  # bytes of the current frame were fed
        self._pending = memoryview(b"")  # decompressed text not yet handed out
        self._error: zstandard.ZstdError | None = None  # raised once the text before it was read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "memoryview | bytearray") -> int:  # type: ignore[override]
        while not self._pending:
            if self._error is not None:
                raise self._error
            data = self._raw.read(_CHUNK)
            if not data:
                if self._started:
                    raise EOFError("compressed file ended before the end of its zstd frame was reached")
                return 0
            self._pending = memoryview(self._decompress(data))
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def _decompress(self, data: bytes) -> bytes:
        out = []
        while data:
            self._started = True
            try:
                out.append(self._frame.decompress(data))
            except zstandard.ZstdError as error:  # the frames before this one are whole: give them first
                self._error = error
                break
            if not self._frame.eof:
                break
            data, self._started = self._frame.unused_data, False  # the next frame starts here
            self._frame = zstandard.ZstdDecompressor().decompressobj()
        return b"".join(out)

    def close(self) -> None:
        self._raw.close()
        super().close()


def _zip_member(path: Path) -> IO[bytes]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:  # a truncated zip has lost its directory: nothing is readable
        raise ArchiveError(f"{path}: not a readable zip archive ({error})") from None
    members = [info for info in archive.infolist() if not info.is_dir()]
    if len(members) != 1:
        archive.close()
        raise ArchiveError(f"{path}: a zip archive must hold exactly one file, it holds {len(members)}")
    member = archive.open(members[0])
    archive.close()  # the member keeps the file open until it is closed itself
    return member


def lines(path: Path, damage: list[Damage] | None = None) -> Iterator[bytes]:
    """Every complete line of `path` (newline kept; the last line may lack one). At a break
    the `Damage` is appended to `damage` and the iteration ends; with `damage` None it raises
    `DamagedFile` instead — after the lines before the break were yielded."""
    number = offset = 0
    with open_binary(path) as handle:
        iterator = iter(handle)
        while True:
            try:
                raw = next(iterator)
            except StopIteration:
                return
            except _DAMAGE as error:
                found = Damage(path, number, offset, _reason(error))
                if damage is None:
                    raise DamagedFile([found]) from None
                damage.append(found)
                return
            number += 1
            offset += len(raw)
            yield raw


def _reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text[0].lower() + text[1:] if text else text


def count_lines(path: Path) -> int:
    """Complete lines of `path` up to its end or its break (for progress totals)."""
    return sum(1 for _ in lines(path, []))
