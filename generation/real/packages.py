"""Real packages named by the user, each turned into folders to harvest with its provenance.

- ``packages``: pip requirement strings (``"skrl==2.1.1"``). Each is downloaded once with
  ``pip download --no-deps`` (a wheel preferred, an sdist accepted) into the cache
  (``generation/cache.py``), unpacked there with every path checked to stay inside its folder,
  and read again from the cache by later builds: a cached package builds with no network.
- ``modules``: installed packages by import name, found with ``importlib`` without importing them.

The provenance of a package is its distribution name, its exact version and its licence as its
metadata declares it (``License-Expression``, else a licence classifier, else its licence file,
else a ``License`` field that names one); a file's own SPDX header still wins (``licenses.py``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from generation.cache import cache_dir
from generation.real.licenses import LICENSE_TEXTS, license_text_id
from generation.source.spec import Failure

logger = logging.getLogger(__name__)

PIP_TIMEOUT = 600  # seconds one download may take
MAX_UNPACKED_BYTES = 2_000_000_000  # an archive that unpacks to more is not a source package
ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".zip")
# Trove classifiers (their last part) and the SPDX ids they mean.
CLASSIFIER_LICENSES = {
    "Apache Software License": "Apache-2.0",
    "MIT License": "MIT",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "ISC License (ISCL)": "ISC",
    "The Unlicense (Unlicense)": "Unlicense",
    "BSD License": "BSD",  # the classifier does not say which BSD licence
}
# How a free-text ``License`` field often spells an SPDX id (compared in lower case).
LICENSE_SPELLINGS = {
    **{spdx.lower(): spdx for spdx, _ in LICENSE_TEXTS},
    "mit license": "MIT",
    "apache 2.0": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0",
    "apache software license": "Apache-2.0",
}


class PackageError(ValueError):
    """A package that cannot be had, said in one line that names it."""


@dataclass(frozen=True)
class Provenance:
    """Where a harvested file came from: a package's distribution name, exact version and licence."""

    name: str
    version: str
    license: str = "unknown"

    @property
    def key(self) -> str:
        """How statistics and the card name the package: ``skrl==2.1.1``."""
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class PackageRoots:
    """A package's importable folders and top-level modules, to harvest, with its provenance; or
    why it gives nothing (``failure``: no Python files, a Warp it cannot run on)."""

    provenance: Provenance
    roots: tuple[Path, ...] = ()
    failure: Failure | None = None


@dataclass(frozen=True)
class PipSource:
    """The pip options that say where packages come from: ``--find-links`` and ``--index-url``."""

    find_links: tuple[str, ...] = ()
    index_url: str | None = None

    def args(self) -> list[str]:
        links = [arg for link in self.find_links for arg in ("--find-links", link)]
        return links + (["--index-url", self.index_url] if self.index_url else [])


@dataclass
class RequirementsFile:
    """A requirements file: its requirement lines, and its ``--find-links``/``--index-url`` lines."""

    requirements: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    index_url: str | None = None


_OPTION_LINE = re.compile(r"^(-f|--find-links|-i|--index-url)(?:\s+|=)(\S+)$")


def read_requirements_file(path: str | Path) -> RequirementsFile:
    """The requirements of a file in pip's requirements format: one requirement a line, ``#``
    comments, and the ``--find-links`` and ``--index-url`` options; anything else is an error
    naming the line."""
    found = RequirementsFile()
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise PackageError(f"cannot read the packages file {str(path)!r}: {error}") from None
    for number, raw in enumerate(lines, 1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        option = _OPTION_LINE.match(line)
        if not line:
            continue
        if option and option.group(1) in ("-f", "--find-links"):
            found.find_links.append(option.group(2))
        elif option:
            found.index_url = option.group(2)
        else:
            requirement(line, where=f"{Path(path).name} line {number}")
            found.requirements.append(line)
    return found


def requirement(text: str, where: str = "packages") -> Requirement:
    """A pip requirement string parsed; a bad one is an error naming it."""
    try:
        parsed = Requirement(text)
    except InvalidRequirement as error:
        why = str(error).splitlines()[0]
        raise PackageError(f"{where}: {text!r} is not a pip requirement such as 'name==1.2.3' ({why})") from None
    if parsed.url:
        raise PackageError(f"{where}: {text!r} names a URL; give a name and version, and --find-links for the folder")
    return parsed


# -- the cache ---------------------------------------------------------------------------------


def packages_cache() -> Path:
    return cache_dir() / "packages"


def archive_release(path: Path) -> tuple[str, Version, bool] | None:
    """(canonical name, version, is a wheel) of a downloaded archive, from its file name."""
    try:
        if path.name.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(path.name)
            return name, version, True
        if path.name.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(path.name)
            return name, version, False
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return None


def cached_archive(wanted: Requirement, archives: Path, sdist: bool = False) -> Path | None:
    """The newest cached archive that meets ``wanted``, a wheel before an sdist of the same version
    (``sdist``: sdists only)."""
    name = canonicalize_name(wanted.name)
    found = []
    for path in archives.glob("*") if archives.is_dir() else []:
        release = archive_release(path)
        if release and release[0] == name and wanted.specifier.contains(release[1], prereleases=True):
            if not (sdist and release[2]):
                found.append((release[1], release[2], path.name, path))
    return max(found)[3] if found else None


def download(text: str, pip: PipSource, archives: Path, sdist: bool = False) -> Path:
    """One requirement downloaded into the cache with ``pip download --no-deps``: a wheel if one
    meets it, else an sdist (pip prepares an sdist's metadata by running its build backend, so a
    wheel is always asked for first); ``sdist``: its sdist only. pip's own error, in one line, when
    none comes."""
    archives.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=archives, prefix=".download-") as folder:
        binary = ["--no-binary", canonicalize_name(requirement(text).name)] if sdist else ["--only-binary", ":all:"]
        done = _pip_download(text, pip, folder, binary)
        if not sdist and done.returncode != 0 and "No matching distribution" in done.stderr:
            logger.warning("%s has no wheel: pip runs its sdist's build backend to read its metadata", text)
            done = _pip_download(text, pip, folder, [])
        made = [p for p in Path(folder).iterdir() if archive_release(p)]
        if done.returncode != 0 or not made:
            errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR:")]
            why = errors[-1].removeprefix("ERROR: ") if errors else f"pip exited with {done.returncode}"
            raise PackageError(f"package {text!r} could not be downloaded, and no cached archive meets it: {why}")
        target = archives / made[0].name
        os.replace(made[0], target)
    return target


def _pip_download(text: str, pip: PipSource, folder: str, binary: list[str]) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--dest", folder, *binary]
    command += ["--disable-pip-version-check", "--no-input", "--retries", "2", *pip.args(), text]
    logger.info("downloading %s", text)
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise PackageError(f"downloading {text!r} took over {PIP_TIMEOUT} s") from None


def unpacked(archive: Path) -> Path:
    """The archive unpacked once, into a folder beside it named after it."""
    folder = archive.parent.parent / "unpacked" / archive.name
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{archive.name}-"))
    try:
        unpack(archive, temporary)
        try:
            os.rename(temporary, folder)
        except OSError:  # another build unpacked it first
            shutil.rmtree(temporary)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return folder


def unpack(archive: Path, folder: Path) -> None:
    """Every file of a wheel, zip or tar.gz under ``folder``; a member whose path would land outside it
    (absolute, ``..``, a link out) is an error naming it, raised before anything is written."""
    if archive.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as zipped:
            members = zipped.infolist()
            for member in members:
                _check_member(archive, member.filename)
            if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
                raise PackageError(f"{archive.name} unpacks to over {MAX_UNPACKED_BYTES:,} bytes")
            zipped.extractall(folder)
        return
    with tarfile.open(archive) as tarred:
        members = tarred.getmembers()
        for member in members:
            _check_member(archive, member.name)
            if member.issym() or member.islnk():
                _check_member(archive, str(PurePosixPath(member.name).parent / member.linkname))
        if sum(m.size for m in members) > MAX_UNPACKED_BYTES:
            raise PackageError(f"{archive.name} unpacks to over {MAX_UNPACKED_BYTES:,} bytes")
        try:
            tarred.extractall(folder, filter="data")
        except tarfile.FilterError as error:
            raise PackageError(f"{archive.name}: {error}; nothing of it is harvested") from None


def _check_member(archive: Path, name: str) -> None:
    path = PurePosixPath(name.replace("\\", "/"))
    depth = 0
    for part in path.parts:
        depth += -1 if part == ".." else (part not in (".", ""))
        if depth < 0:
            break
    if path.is_absolute() or depth < 0 or re.match(r"^[A-Za-z]:", name):
        raise PackageError(
            f"{archive.name} holds the path {name!r}, which leaves the folder it is unpacked into; "
            "nothing of it is harvested"
        )


# -- what a package holds ------------------------------------------------------------------------


def fetch_package(text: str, pip: PipSource = PipSource()) -> PackageRoots:
    """The roots and provenance of a pip requirement: from the cache when an archive there meets
    it, else downloaded into the cache first."""
    wanted = requirement(text)
    archives = packages_cache() / "archives"
    archive = cached_archive(wanted, archives) or download(text, pip, archives)
    return package_roots(unpacked(archive), archive.name)


# Where an sdist keeps its tests, beside its PKG-INFO.
TEST_FOLDERS = ("tests", "test")


def fetch_tests(provenance: Provenance, pip: PipSource = PipSource()) -> Path | Failure:
    """The tests of a package release, for run mode: the folder of them in its sdist (``tests/`` or
    ``test/`` beside PKG-INFO), from the cache or downloaded and unpacked as safely as a wheel. Most
    packages ship their tests only there, so the wheel gives the code and the sdist the tests that
    exercise it. A ``no_tests`` failure, naming the release, where it has no sdist or no tests."""
    text = f"{provenance.name}=={provenance.version}"
    archives = packages_cache() / "archives"
    try:
        archive = cached_archive(requirement(text), archives, sdist=True) or download(text, pip, archives, sdist=True)
        base = next((p.parent for p in sorted(unpacked(archive).glob("*/PKG-INFO"))), None)
    except PackageError as error:
        return Failure("no_tests", f"{provenance.key}: no sdist to take its tests from ({error})")
    tests = next((base / name for name in TEST_FOLDERS if base and (base / name).is_dir()), None)
    if tests is None:
        return Failure("no_tests", f"{provenance.key}: its sdist holds no {' or '.join(TEST_FOLDERS)} folder")
    return tests


def package_roots(folder: Path, label: str) -> PackageRoots:
    """An unpacked wheel's (or sdist's) importable folders and top-level modules, and its provenance."""
    dist_info = sorted(folder.glob("*.dist-info"))
    if dist_info:  # a wheel: its packages are beside its .dist-info
        source, distribution = folder, metadata.PathDistribution(dist_info[0])
    else:  # an sdist: one folder holding PKG-INFO, its packages in it or under src/
        base = next((p.parent for p in sorted(folder.glob("*/PKG-INFO"))), None)
        if base is None:
            raise PackageError(f"{label} holds neither a .dist-info folder nor PKG-INFO: not a Python package")
        source = base / "src" if (base / "src").is_dir() else base
        distribution = metadata.PathDistribution(base)
    provenance = distribution_provenance(distribution)
    roots = tuple(
        path
        for path in sorted(source.iterdir())
        if not path.name.endswith((".dist-info", ".data", ".egg-info"))
        and ((path.is_dir() and (path / "__init__.py").is_file()) or (path.is_file() and path.suffix == ".py"))
        and path.name != "setup.py"
    )
    if not roots:
        return PackageRoots(
            provenance, failure=Failure("no_python_files", f"{provenance.key}: {label} holds no Python package")
        )
    return PackageRoots(provenance, roots, warp_mismatch(distribution, provenance))


def distribution_provenance(distribution: metadata.Distribution) -> Provenance:
    meta = distribution.metadata
    return Provenance(meta["Name"], meta["Version"], package_license(distribution))


def package_license(distribution: metadata.Distribution) -> str:
    """A package's licence as its metadata declares it: ``License-Expression``, else the licence
    classifiers, else its licence file recognised by its text, else a ``License`` field naming one,
    else ``unknown``."""
    meta = distribution.metadata
    if meta.get("License-Expression"):
        return meta["License-Expression"]
    classified = sorted(
        {
            CLASSIFIER_LICENSES[c.rsplit(" :: ", 1)[-1]]
            for c in meta.get_all("Classifier") or []
            if c.startswith("License ::") and c.rsplit(" :: ", 1)[-1] in CLASSIFIER_LICENSES
        }
    )
    if classified:
        return " OR ".join(classified)
    for name in meta.get_all("License-File") or []:
        text = distribution.read_text(f"licenses/{name}") or distribution.read_text(name)
        if text and license_text_id(text):
            return license_text_id(text)
    declared = (meta.get("License") or "").strip().lower()
    return LICENSE_SPELLINGS.get(declared, "unknown")


def warp_mismatch(distribution: metadata.Distribution, provenance: Provenance) -> Failure | None:
    """Why a package cannot be built with the installed Warp (its ``warp-lang`` requirement
    excludes it), else None."""
    installed = Version(metadata.version("warp-lang"))
    for line in distribution.requires or []:
        try:
            needed = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(needed.name) == "warp-lang" and not needed.specifier.contains(installed, True):
            return Failure(
                "needs_other_warp",
                f"{provenance.key} requires warp-lang{needed.specifier}; this build has Warp {installed}",
            )
    return None


def module_roots(name: str) -> PackageRoots:
    """An installed package by its import name, found without importing it, with the provenance of
    the distribution that installed it (empty when none did: a folder on ``sys.path``)."""
    if not name.isidentifier():
        raise PackageError(f"modules: {name!r} is not a top-level import name such as 'skrl'")
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise PackageError(f"modules: no installed module {name!r}; install it, or give its files as paths")
    root = Path(spec.submodule_search_locations[0]) if spec.submodule_search_locations else Path(spec.origin)
    if root.suffix not in ("", ".py"):
        raise PackageError(f"modules: {name!r} is a compiled module ({root.name}): there is no Python to harvest")
    distributions = metadata.packages_distributions().get(name, [])
    if not distributions:
        return PackageRoots(Provenance("", ""), (root,))
    distribution = metadata.distribution(distributions[0])
    provenance = distribution_provenance(distribution)
    return PackageRoots(provenance, (root,), warp_mismatch(distribution, provenance))
