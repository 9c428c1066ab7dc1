"""The SFTP delivery of Winningtemp's file integration: files uploaded whole, or not at all.

Data flow: the file sink hands :meth:`SftpDelivery.deliver` a dict of file name → bytes
(``wt_users.csv``, ``wt_groups.csv``), in the order they are to arrive. Each file is written
to a hidden temporary name in ``remote_folder`` (``.wt_users.csv.hrsync-<random>.part``), its
size checked by ``stat``, then renamed over the final name, and the final file's size checked
again. Winningtemp's nightly import therefore reads either yesterday's file or today's, whole:
never a file still being written, nor one cut short by a full disk, a dropped connection or a
killed process. A failed upload's temporary file is removed (best effort; what a killed process
left is removed by the next delivery).

The rename uses the ``posix-rename@openssh.com`` extension, which replaces the final file in
one step. paramiko does not show the extensions a server announces, so the delivery asks for
it, and a server that answers "unsupported" (as SFTP v3 requires for unknown extensions) gets
a plain rename instead; a server that refuses to rename over an existing file (OpenSSH's plain
rename does) gets remove-then-rename, whose short window leaves the final name absent, never
partial.

Connections that fail, drop or time out (:class:`~.sftp_errors.SftpTransientError`) are retried
``max_retries`` times with a doubling back-off, on a new session, resuming at the first file not
yet delivered. Everything else stops at once. :meth:`SftpDelivery.check` is ``hrsync check``'s probe.
"""

from __future__ import annotations

import fnmatch
import logging
import posixpath
import secrets
import time
from collections.abc import Callable, Mapping

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from .sftp_errors import SftpError, SftpTransientError, failure, transient
from .sftp_session import SftpSession, described, open_session
from .sftp_settings import SftpSettings

log = logging.getLogger("hrsync.winningtemp")

#: What temporary names look like, ``.<name>.hrsync-<random>.part``: hidden, and not ending in the
#: final name's extension, so an importer that picks up ``*.csv`` never sees them.
TEMP_PATTERN = ".{name}.hrsync-{tag}.part"


def temp_name(name: str, tag: str) -> str:
    return TEMP_PATTERN.format(name=name, tag=tag)


class SftpDelivery:
    """Uploads files atomically to the SFTP server of :class:`~.sftp_settings.SftpSettings`.

    ``pause(seconds) -> bool`` waits between retries (a run's ``RunContext.pause``, which ends
    early when the run is asked to stop); without it, the delivery sleeps."""

    def __init__(self, settings: SftpSettings, *, pause: Callable[[float], bool] | None = None) -> None:
        self.settings = settings
        self.pause = pause
        self.folder = settings.remote_folder.rstrip("/") or "/"
        self._posix_rename: bool | None = None  # learnt from the server's first answer

    def __repr__(self) -> str:
        return f"SftpDelivery({self.settings.where}{self.folder})"

    # -- deliver ----------------------------------------------------------------------------------

    def deliver(self, files: Mapping[str, bytes]) -> dict[str, int]:
        """Upload each file whole, in order; return each file's name → size as the server holds it."""
        for name in files:
            if not name or "/" in name or name in (".", "..") or name.startswith("."):
                raise ValueError(f"{name!r} is not a plain file name")
        done: dict[str, int] = {}
        stranded: set[str] = set()  # temporary files a dropped connection kept us from removing

        def attempt() -> None:
            session = open_session(self.settings)
            try:
                self._remove_leftovers(session, [n for n in files if n not in done])
                stranded.clear()
                for name, data in files.items():
                    if name not in done:
                        done[name] = self._put(session, name, data, stranded)
            finally:
                session.close()

        try:
            self._retrying(attempt)
        except SftpError as exc:
            if stranded and isinstance(exc, SftpTransientError):
                self._clean_up(stranded)
            if done:  # the files are delivered one by one: say which ones the importer will read new
                exc.message += f" Delivered before that: {', '.join(done)}."
                exc.context["delivered"] = dict(done)
            raise
        return done

    def _retrying(self, call: Callable[[], None]) -> None:
        attempts = self.settings.max_retries + 1

        def waited(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning("SFTP delivery, attempt %d of %d failed (%s); trying again", state.attempt_number,
                        attempts, exc)

        def sleep(seconds: float) -> None:
            if self.pause is None:
                time.sleep(seconds)
            elif not self.pause(seconds):
                raise SftpError(f"{self.settings.where}: stopped on request while waiting to retry the delivery.")

        retrying = Retrying(stop=stop_after_attempt(attempts), reraise=True, sleep=sleep, before_sleep=waited,
                            wait=wait_exponential(multiplier=self.settings.retry_backoff, max=60),
                            retry=retry_if_exception_type(SftpTransientError))
        try:
            retrying(call)
        except SftpTransientError as exc:
            if attempts > 1:
                raise SftpTransientError(f"{exc.message} Gave up after {attempts} attempts (max_retries: "
                                         f"{self.settings.max_retries}).") from None
            raise

    def _put(self, session: SftpSession, name: str, data: bytes, stranded: set[str]) -> int:
        """Upload one file to a temporary name, check it, rename it over ``name``; its size on the server."""
        sftp, where, folder = session.sftp, self.settings.where, self.folder
        final = posixpath.join(folder, name)
        temp = posixpath.join(folder, temp_name(name, secrets.token_hex(6)))
        step = f"uploading {name}"
        try:
            self._write(session, temp, data)
            step = f"checking the uploaded {name}"
            if (size := sftp.stat(temp).st_size) != len(data):
                raise SftpTransientError(f"{where}: the server holds {size} bytes of {name} after the upload, "
                                         f"{len(data)} were sent; {name} on the server is unchanged.")
            step = f"renaming the uploaded {name} to its final name"
            self._replace(sftp, temp, final, name)
        except Exception as exc:
            error = exc if isinstance(exc, SftpError) else failure(
                exc, doing=step, where=where, folder=folder, username=self.settings.username, unchanged=name)
            if isinstance(error, SftpTransientError):
                session.close()  # dropped or stuck: nothing more on this connection; a new one removes the file
                stranded.add(temp)
            else:
                self._discard(sftp, temp)
            raise error from None
        except BaseException:
            self._discard(sftp, temp)
            raise
        try:
            size = sftp.stat(final).st_size
        except Exception as exc:
            raise failure(exc, doing=f"checking {name} after renaming it", where=where, folder=folder,
                          username=self.settings.username) from None
        if size != len(data):
            raise SftpError(f"{where}: {final} holds {size} bytes after the rename, {len(data)} were sent.")
        log.info("SFTP: delivered %s (%d bytes) to %s%s", name, size, where, final)
        return size

    @staticmethod
    def _write(session: SftpSession, path: str, data: bytes) -> None:
        """Write ``data`` to a new file at ``path``, each write answered before the next is sent.

        paramiko drops the answers to pipelined writes, refusals included (``putfo`` notices only by the
        size); unpipelined, a refused write raises with the server's reason ("No space left on device").
        One round trip per 32 KiB: a few seconds for the largest staff lists, on a nightly delivery."""
        fh = session.sftp.open(path, "wb")
        try:
            fh.write(data)
            fh.flush()
        except BaseException as exc:
            if transient(exc):
                session.close()  # dropped or stuck: closing the file would wait for the connection again
            try:
                fh.close()
            except Exception:  # noqa: BLE001 - the write's own error is the one to report
                pass
            raise
        fh.close()

    def _replace(self, sftp, temp: str, final: str, name: str) -> None:
        """Rename ``temp`` over ``final``: in one step where the server can (posix-rename), else as closely as it
        allows."""
        if self._posix_rename is not False:
            try:
                sftp.posix_rename(temp, final)
                self._posix_rename = True
                return
            except OSError as exc:
                if self._posix_rename or exc.errno is not None or "unsupported" not in str(exc).lower():
                    raise
                self._posix_rename = False
                log.info("SFTP: %s does not rename over files in one step (posix-rename); renaming in two",
                         self.settings.where)
        try:
            sftp.rename(temp, final)  # SFTP v3 leaves replacing an existing file to the server: some do
            return
        except OSError:
            if not self._exists(sftp, final):
                raise
        # The window: from the remove to the rename, the final name is absent (never partial).
        sftp.remove(final)
        try:
            sftp.rename(temp, final)
        except Exception as exc:
            error = failure(exc, doing=f"renaming the uploaded {name} to its final name", where=self.settings.where,
                            folder=self.folder, username=self.settings.username)
            raise type(error)(f"{error.message} The previous {name} was removed first (the server cannot rename "
                              "over a file): until the next delivery there is none.") from None

    @staticmethod
    def _exists(sftp, path: str) -> bool:
        try:
            sftp.stat(path)
            return True
        except FileNotFoundError:
            return False

    def _discard(self, sftp, temp: str) -> None:
        try:
            sftp.remove(temp)
        except Exception:  # noqa: BLE001 - best effort: the connection may be gone; the next delivery removes it
            log.debug("SFTP: could not remove %s (the next delivery will)", temp)

    def _clean_up(self, temps: set[str]) -> None:
        """After a last attempt lost its connection: remove its temporary files on a new one (best effort)."""
        try:
            session = open_session(self.settings)
        except Exception:  # noqa: BLE001 - the server is still away: the next delivery removes them
            return
        try:
            for temp in temps:
                self._discard(session.sftp, temp)
        finally:
            session.close()

    def _remove_leftovers(self, session: SftpSession, names: list[str]) -> None:
        """Remove the temporary files a killed delivery of these files left (best effort)."""
        try:
            listed = session.sftp.listdir(self.folder)
        except Exception:  # noqa: BLE001 - the upload itself will say what is wrong with the folder
            return
        for entry in listed:
            if any(fnmatch.fnmatchcase(entry, temp_name(name, "*")) for name in names):
                self._discard(session.sftp, posixpath.join(self.folder, entry))
                log.info("SFTP: removed %s, left by an interrupted delivery", entry)

    # -- hrsync check -------------------------------------------------------------------------------

    def check(self) -> list[str]:
        """Connect, list ``remote_folder``, write and remove a small file there: what ``hrsync check`` shows.
        Raises the delivery's errors (one attempt, no retries)."""
        settings, folder = self.settings, self.folder
        session = open_session(settings)
        try:
            lines = [f"Connected to {settings.where} as {settings.username}; the server's host key "
                     f"{described(session.host_key)} is the pinned one."]
            sftp = session.sftp
            try:
                entries = sftp.listdir_attr(folder)
            except (OSError, EOFError) as exc:
                raise failure(exc, doing=f"listing {folder}", where=settings.where, folder=folder,
                              username=settings.username) from None
            shown = ", ".join(f"{e.filename} ({e.st_size} bytes)" for e in entries
                              if not e.filename.startswith(".")) or "nothing yet"
            lines.append(f"{folder} holds {shown}.")
            probe = posixpath.join(folder, temp_name("check", secrets.token_hex(6)))
            try:
                with sftp.open(probe, "wb") as fh:
                    fh.write(b"hrsync check\n")
            except (OSError, EOFError) as exc:
                self._discard(sftp, probe)
                raise failure(exc, doing=f"writing a test file in {folder}", where=settings.where, folder=folder,
                              username=settings.username) from None
            self._discard(sftp, probe)
            lines.append(f"{folder} is writable (a test file was written and removed).")
            return lines
        finally:
            session.close()
