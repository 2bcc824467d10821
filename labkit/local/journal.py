"""The local endpoint's write-ahead journal: an append-only file of framed entries, made durable in groups.

Each entry is framed as `length (4 bytes) | crc32 (4 bytes) | payload`. `append` writes a frame (the
caller orders appends); `wait_durable(n)` returns once entry n is fsynced: the first waiter fsyncs for
every entry written so far while later ones wait for it (group commit), so one fsync serves many requests.

The journal has generations, one file each (`journal-000007.log`). `rotate()` starts the next one; a
snapshot of the state names the generation that follows it, and older files are deleted once the
snapshot is safely on disk. Reading stops at a torn or corrupt tail (a frame the crash cut short: it was
never acknowledged, as acknowledgement waits for its fsync), and `open` cuts that tail off.
"""
from __future__ import annotations

import os
import struct
import threading
import zlib
from pathlib import Path
from typing import Iterator

FRAME = struct.Struct(">II")  # payload length, crc32 of the payload


def _name(generation: int) -> str:
    return f"journal-{generation:06d}.log"


def generations(folder: Path) -> list[int]:
    """The generations whose files are in `folder`, oldest first."""
    return sorted(int(path.stem.split("-")[1]) for path in folder.glob("journal-*.log"))


def read(folder: Path, generation: int) -> Iterator[bytes]:
    """The payloads of one generation's file, in order, up to its first torn or corrupt frame."""
    path = folder / _name(generation)
    with open(path, "rb") as handle:
        while True:
            header = handle.read(FRAME.size)
            if len(header) < FRAME.size:
                return
            length, crc = FRAME.unpack(header)
            payload = handle.read(length)
            if len(payload) < length or zlib.crc32(payload) != crc:
                return
            yield payload


def _intact_length(path: Path) -> int:
    """How many bytes of the file hold whole, valid frames."""
    end = 0
    with open(path, "rb") as handle:
        while True:
            header = handle.read(FRAME.size)
            if len(header) < FRAME.size:
                return end
            length, crc = FRAME.unpack(header)
            payload = handle.read(length)
            if len(payload) < length or zlib.crc32(payload) != crc:
                return end
            end += FRAME.size + length


def fsync_folder(folder: Path) -> None:
    """Make a rename or a new file in `folder` survive a crash."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class Journal:
    """Appends to the newest generation of the journal in `folder`."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.generation = 0
        self.bytes_written = 0  # in the current generation
        self._fd: int | None = None
        self._written = 0  # entries written (all generations)
        self._synced = 0  # entries known to be on disk
        self._syncing = False
        self._sync_done = threading.Condition()

    def open(self, generation: int) -> None:
        """Append to `generation` (created if missing), after cutting off a torn tail."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / _name(generation)
        intact = _intact_length(path) if path.exists() else 0
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.ftruncate(self._fd, intact)
        os.lseek(self._fd, intact, os.SEEK_SET)
        os.fsync(self._fd)
        fsync_folder(self.folder)
        self.generation, self.bytes_written = generation, intact

    def append(self, payload: bytes) -> int:
        """Write one entry (not yet durable); its number for `wait_durable`. Callers serialise appends."""
        frame = memoryview(FRAME.pack(len(payload), zlib.crc32(payload)) + payload)
        while frame:
            frame = frame[os.write(self._fd, frame):]
        self.bytes_written += FRAME.size + len(payload)
        self._written += 1
        return self._written

    def wait_durable(self, entry: int) -> None:
        """Return once `entry` is fsynced (fsyncing for the whole group if no one else is)."""
        with self._sync_done:
            while self._synced < entry:
                if self._syncing:
                    self._sync_done.wait()
                    continue
                self._syncing, target, descriptor = True, self._written, self._fd
                self._sync_done.release()
                try:
                    os.fsync(descriptor)
                finally:
                    self._sync_done.acquire()
                    self._syncing = False
                    self._synced = max(self._synced, target)
                    self._sync_done.notify_all()

    def rotate(self) -> int:
        """Close this generation (durably) and append to the next one from now on; the new generation.
        Callers make sure no append runs meanwhile."""
        self.close()
        self.open(self.generation + 1)
        return self.generation

    def close(self) -> None:
        with self._sync_done:
            while self._syncing:
                self._sync_done.wait()
            if self._fd is not None:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = None
            self._synced = self._written

    def drop_before(self, generation: int) -> None:
        """Delete the files of generations older than `generation` (a snapshot holds them)."""
        for old in generations(self.folder):
            if old < generation:
                (self.folder / _name(old)).unlink(missing_ok=True)
