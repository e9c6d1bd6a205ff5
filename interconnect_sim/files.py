"""Output files and folders written whole, with the user's umask, checked before work starts.

Every layer that writes (calibration, training, workload, report, the CLI) uses these helpers, so
they live at the bottom of the package next to :mod:`units` and :mod:`errors`.

* :func:`check_output_file` / :func:`check_output_folder` run before any work: a missing folder
  is created, an unwritable place or a file where a folder should be is a
  :class:`~interconnect_sim.errors.ScenarioError` naming the option.
* :func:`write_atomically` writes a file under a temporary name in the same folder and renames it
  into place, so a crash or a kill never leaves half a file. The temporary name ends with the real
  file name, so libraries that pick a format from the suffix (matplotlib) see the real one.
* :func:`write_folder_atomically` does the same for a folder of outputs: a fresh temporary folder
  is filled and swapped in whole, so a killed run never leaves old and new files mixed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from interconnect_sim.errors import ScenarioError

__all__ = [
    "check_output_file",
    "check_output_folder",
    "read_text_file",
    "user_file_mode",
    "user_folder_mode",
    "write_atomically",
    "write_folder_atomically",
]


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def user_file_mode() -> int:
    """Permission bits a new file gets under the process umask (``0o666 & ~umask``)."""
    return 0o666 & ~_umask()


def user_folder_mode() -> int:
    """Permission bits a new folder gets under the process umask (``0o777 & ~umask``)."""
    return 0o777 & ~_umask()


def _writable_folder(folder: Path, option: str) -> None:
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise ScenarioError(f"{option}: {str(existing)!r} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScenarioError(
            f"{option}: cannot create folder {str(folder)!r}: {exc.strerror}"
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ScenarioError(f"{option}: folder {str(folder)!r} is not writable")


def _os_error(path: Path, option: str, exc: OSError) -> ScenarioError:
    """An OSError met while looking at an output path (a name too long, a loop of links) as a
    one-line error naming the option."""
    shown = str(path) if len(str(path)) <= 60 else f"{str(path)[:40]}..."
    return ScenarioError(f"{option}: {shown!r}: {exc.strerror}")


def check_output_file(path: Path, option: str, *, suffixes: tuple[str, ...] = ()) -> Path:
    """Check, before any work, that ``path`` can be written; create its folder if missing.

    Parameters
    ----------
    path : Path
        The file to be written.
    option : str
        The option or key that named it, for the error message (``"--draw"``).
    suffixes : tuple of str
        Allowed suffixes (``(".png", ".svg")``); empty allows any.

    Raises
    ------
    ScenarioError
        The path is a folder, has a suffix not allowed, or its folder cannot be created or
        written.
    """
    path = Path(path)
    if suffixes and path.suffix.lower() not in suffixes:
        raise ScenarioError(
            f"{option}: {str(path)!r} must end in one of {', '.join(suffixes)} "
            f"(the suffix sets the format)"
        )
    try:
        if path.is_dir():
            raise ScenarioError(f"{option}: {str(path)!r} is a folder; give a file name")
        _writable_folder(path.parent if str(path.parent) else Path("."), option)
        if path.exists() and not os.access(path, os.W_OK):
            raise ScenarioError(f"{option}: {str(path)!r} exists and is not writable")
    except OSError as exc:
        raise _os_error(path, option, exc) from None
    return path


def check_output_folder(path: Path, option: str) -> Path:
    """Check, before any work, that the output folder ``path`` can be (re)placed.

    The folder itself is replaced whole by :func:`write_folder_atomically`, so what must be
    writable is its parent.
    """
    path = Path(path)
    if path.name in ("", ".", ".."):  # "", ".", "x/..": a folder that holds the working one
        raise ScenarioError(
            f"{option}: {str(path)!r} would replace the folder it is in; name a folder of its own"
        )
    try:
        if path.exists() and not path.is_dir():
            raise ScenarioError(f"{option}: {str(path)!r} is a file, not a folder")
        _writable_folder(path.parent if str(path.parent) else Path("."), option)
    except OSError as exc:
        raise _os_error(path, option, exc) from None
    return path


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it to ``path``.

    The file gets the permissions of a file created under the user's umask (``tempfile`` alone
    would leave it 0600). On any exception, including ``KeyboardInterrupt`` and the
    ``SystemExit`` the CLI raises on SIGTERM, the temporary file is removed.

    Parameters
    ----------
    path : Path
        Final destination; its folder must exist.
    write : callable
        Writes the whole file to the path it is given.
    """
    path = Path(path)
    handle, name = tempfile.mkstemp(prefix=".tmp-", suffix=f"-{path.name}", dir=path.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, user_file_mode())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_folder_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Fill a fresh temporary folder with ``write(tmp_folder)``, then swap it in as ``path``.

    An existing ``path`` is replaced whole: a reader sees the old folder or the new one, never a
    mix. On failure the temporary folder is removed and the old folder is left as it was.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}-", dir=parent))
    old: Path | None = None
    try:
        write(tmp)
        os.chmod(tmp, user_folder_mode())
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".old-{path.name}-", dir=parent))
            os.rmdir(old)
            os.replace(path, old)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and old.exists():
            shutil.rmtree(old, ignore_errors=True)


def read_text_file(path: Path, what: str, error: type[Exception] = ScenarioError) -> str:
    """Read a UTF-8 text file, turning a missing, unreadable, non-UTF-8 or empty file into
    ``error`` (a one-line message naming the file and saying what was wrong)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{path}: {what} file not found") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder, not a {what} file") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {what} file: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(
            f"{path}: line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}); save the {what} file as UTF-8"
        ) from None
    if not text.strip():
        raise error(f"{path}: the {what} file is empty")
    return text.removeprefix("\ufeff")
