"""Atomic writes: a result is written to a temporary file beside its target, then renamed.

A crash leaves either the old file or none, never half of a new one, so a rerun resumes. The
temporary file is named ``.<target name>.<random>.tmp``; a process killed outright (``kill -9``,
out of memory) cannot delete it, so the next writer of the same target removes such leftovers
before it starts (Snakemake runs one job per output at a time, so nothing else can own them).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io as _io
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from cameval.errors import CamevalError, DataError, WriteError

log = logging.getLogger(__name__)

#: errno values of an OSError that mean "the output cannot be written here", re-raised as WriteError
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}

_UMASK = os.umask(0)
os.umask(_UMASK)


def temporaries(path: str | os.PathLike) -> list[Path]:
    """Temporary files of :func:`atomic_path` for ``path`` still on disk (leftovers of a killed writer)."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    return sorted(path.parent.glob(f".{glob_escape(path.name)}.*.tmp"))


def glob_escape(name: str) -> str:
    """``name`` with glob's special characters ``*?[`` taken literally."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def remove_temporaries(path: str | os.PathLike) -> list[Path]:
    """Delete the leftovers :func:`temporaries` finds for ``path``; returns what was removed."""
    removed = []
    for tmp in temporaries(path):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            removed.append(tmp)
            log.warning("%s: removed %s, left by an earlier writer that did not finish", path, tmp.name)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s folder; rename it onto ``path`` on success.

    On any exception (a full disk included) the temporary file is removed and ``path`` is left
    untouched. Leftover temporaries of ``path`` from a killed writer are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.exists():  # mkstemp creates 0600; give the result the permissions of a plain file
            os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except OSError as err:
        if isinstance(err, CamevalError) or not _no_room(err):
            raise
        raise WriteError(
            f"{path}: could not be written ({err}); the target was left untouched and the "
            "temporary file removed: free space and rerun"
        ) from err
    finally:
        if tmp.exists():
            tmp.unlink()


def _no_room(err: OSError) -> bool:
    """Whether ``err`` says the disk is full or not writable (h5py's errors carry no errno, only text)."""
    return err.errno in _NO_ROOM or any(text in str(err) for text in ("No space left", "Disk quota", "Read-only file"))


def write_csv(df: pd.DataFrame, path: str | os.PathLike, **kwargs) -> None:
    """Write ``df`` as CSV atomically (no index unless asked)."""
    kwargs.setdefault("index", False)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, **kwargs)


def write_text(text: str, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(obj, path: str | os.PathLike) -> None:
    write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", path)


# --- strict reading of small text tables a person writes or exports ----------------------------------

_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def read_text_strict(path: str | os.PathLike, what: str) -> str:
    """The text of ``path``, decoded as UTF-8 (with or without BOM) or UTF-16 (with its BOM).

    ``what`` says what the file should be, for the errors: a missing file, an empty one, or bytes
    that are neither encoding (a cp1252 / Latin-1 export) raise :class:`DataError` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file (expected {what})")
    raw = path.read_bytes()
    encoding = next((enc for bom, enc in _BOMS if raw.startswith(bom)), "utf-8")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as err:
        raise DataError(
            f"{path}: byte {err.start} is not {encoding.upper()} (expected {what}, encoded as UTF-8 "
            "or UTF-16; re-save a cp1252/Latin-1 export as UTF-8)"
        ) from None
    if not text.strip():
        raise DataError(f"{path}: empty file (expected {what})")
    return text


def read_csv_strict(
    path: str | os.PathLike, what: str, unique_header: bool = True
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """``(header, rows)`` of a CSV read without guessing: ``rows`` are ``(line number, fields)``.

    Every row must have as many fields as the header (a trailing comma, a stray quote or a
    missing field raise :class:`DataError` naming the file, the line and both counts, where
    pandas would shift the fields or pad them silently); blank lines are skipped. With
    ``unique_header`` a header named twice is an error. Encodings as :func:`read_text_strict`.
    """
    text = read_text_strict(path, what)
    reader = csv.reader(_io.StringIO(text, newline=""), strict=True)
    try:
        lines = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as err:
        raise DataError(f"{path}: line {reader.line_num}: {err} (expected {what})") from None
    if not lines:
        raise DataError(f"{path}: empty file (expected {what})")
    (_, header), rows = lines[0], lines[1:]
    header = [h.strip() for h in header]
    for line, row in rows:
        if len(row) != len(header):
            raise DataError(
                f"{path}: line {line} has {len(row)} fields, the header has {len(header)} "
                f"(expected {what}; a trailing comma or an unquoted comma in a cell?)"
            )
    if unique_header:
        twice = sorted({h for h in header if header.count(h) > 1})
        if twice:
            raise DataError(f"{path}: header names {twice} more than once (expected {what})")
    return header, rows
