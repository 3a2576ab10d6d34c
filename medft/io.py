"""Atomic file writes, medft's temporary files, and hashing.

Every output medft produces goes through here, so that a failed or interrupted run
leaves the previous file intact: data is written to a temporary file in the same
directory, flushed to disk, and only then renamed over the target (rename is atomic
on POSIX within one filesystem).

Temporary files are named ``.<target>.medft<pid>-<host>.<random>.tmp``: the pid and a hash
of the host name say which process wrote them, so a later run can remove those of processes
that died (killed mid-write) without touching a live writer's file or anyone else's ``.tmp``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import socket
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

#: medft's own temporary files (see the module docstring); nothing else is ever cleaned up.
TEMP_PATTERN = re.compile(r"^\.(?P<target>.+)\.medft(?P<pid>\d+)-(?P<host>[0-9a-f]{8})\.[a-z0-9_]+\.tmp$")


def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def temp_name(target_name: str, pid: int | None = None) -> str:
    """A fresh temporary-file name for ``target_name`` in medft's pattern (``pid`` defaults to ours)."""
    token = secrets.token_hex(4)
    return f".{target_name}.medft{os.getpid() if pid is None else pid}-{_host()}.{token}.tmp"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except (OverflowError, OSError):
        return False
    return True


def stale_temp_files(directory: str | os.PathLike) -> list[Path]:
    """medft temporary files in ``directory`` left by processes of this host that no longer run."""
    found = []
    host = _host()
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []
    for entry in entries:
        match = TEMP_PATTERN.match(entry.name)
        if match and match["host"] == host and not _pid_alive(int(match["pid"])) and entry.is_file(
                follow_symlinks=False):
            found.append(Path(entry.path))
    return sorted(found)


def remove_stale_temp_files(directory: str | os.PathLike, keep: Iterable[str] = ()) -> list[Path]:
    """Delete :func:`stale_temp_files` of ``directory`` (except names in ``keep``); return what went."""
    keep = set(keep)
    removed = []
    for path in stale_temp_files(directory):
        if path.name not in keep:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


def _open_temp(target: Path) -> tuple[int, str]:
    target.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        name = str(target.parent / temp_name(target.name))
        try:
            return os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600), name
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name next to {target}")


@contextlib.contextmanager
def staged_writer(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[
        tuple[IO, Path]]:
    """Write a complete, fsynced temporary file next to ``path`` and leave it there (``path`` untouched).

    Yields ``(handle, temp_path)``. The caller renames the temporary file into place later, e.g. as one
    step of a commit covering several files. On any exception the temporary file is removed.
    """
    target = Path(path)
    if "b" in mode:
        encoding = None
    fd, tmp_name = _open_temp(target)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle, Path(tmp_name)
            handle.flush()
            os.fsync(handle.fileno())
        # The file was created 0600; give the output the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file next to ``path``; rename it over ``path`` only if the block succeeds.

    On any exception (including KeyboardInterrupt) the temporary file is removed and
    ``path`` is left exactly as it was.
    """
    with staged_writer(path, mode, encoding) as (handle, tmp):
        yield handle
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_writer(path) as handle:
        handle.write(text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_writer(path, "wb") as handle:
        handle.write(data)


def dumps_json(obj: Any) -> str:
    """Serialise ``obj`` the way medft writes JSON files: UTF-8 text, 2-space indent, trailing newline."""
    return json.dumps(obj, ensure_ascii=False, indent=2) + "\n"


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as pretty UTF-8 JSON to ``path`` atomically."""
    atomic_write_text(path, dumps_json(obj))


def atomic_write_jsonl(path: str | os.PathLike, records: Iterable[dict]) -> int:
    """Write ``records`` one compact JSON object per line to ``path`` atomically; return the count."""
    count = 0
    with atomic_writer(path) as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False))
            handle.write("\n")
            count += 1
    return count


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Return the hex sha256 of a file, read in chunks so memory stays flat."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()
