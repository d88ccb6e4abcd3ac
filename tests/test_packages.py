"""Real packages by name (``packages``, ``packages_file``, ``modules``): real wheels and an sdist
written here, found by real ``pip download`` in a local ``--find-links`` folder (the index is
switched off: nothing reaches the network), cached, unpacked safely, harvested, and every row
carrying its package, version and licence."""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest
from conftest import MACHINE_TEXT
from test_honesty import dishonest_rows

from generation import cli
from generation.pipeline.build import build_rows
from generation.pipeline.options import BuildOptions, parse_options
from generation.pipeline.plan import PlannedKernel
from generation.pipeline.plan.real import plan_real
from generation.pipeline.stats import BuildStats
from generation.real.harvest import HarvestOptions, harvest
from generation.real.packages import PackageError, PipSource, module_roots

OPS = """
    # SPDX-License-Identifier: BSD-3-Clause
    import warp as wp


    @wp.kernel
    def scale(a: wp.array(dtype=float), s: float):
        i = wp.tid()
        a[i] = a[i] * s
    """
NEW_KERNEL = """

    @wp.kernel
    def shift(a: wp.array(dtype=float), s: float):
        i = wp.tid()
        a[i] = a[i] + s
    """
HELPERS = """
    import warp as wp


    @wp.func
    def square(x: float):
        return x * x


    @wp.kernel
    def squares(a: wp.array(dtype=float)):
        i = wp.tid()
        a[i] = square(a[i])
    """
BACKEND = """
import os
import shutil


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    os.makedirs(os.path.join(metadata_directory, "{dist_info}"))
    shutil.copy("PKG-INFO", os.path.join(metadata_directory, "{dist_info}", "METADATA"))
    return "{dist_info}"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    raise NotImplementedError("download only")
"""
MIT = "Permission is hereby granted, free of charge, to any person obtaining a copy of this software"


def metadata_text(name: str, version: str, extra: str = "") -> str:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{extra}"


def write_wheel(folder: Path, name: str, version: str, files: dict[str, str], meta: str = "") -> Path:
    """A real wheel (zip with a ``.dist-info``: METADATA, WHEEL, RECORD), as a build backend writes one."""
    stem = f"{name.replace('-', '_')}-{version}"
    dist_info = f"{stem}.dist-info"
    members = {path: textwrap.dedent(text) for path, text in files.items()}
    members[f"{dist_info}/METADATA"] = metadata_text(name, version, meta)
    members[f"{dist_info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    members[f"{dist_info}/RECORD"] = "".join(f"{path},,\n" for path in [*members, f"{dist_info}/RECORD"])
    path = folder / f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for member, text in members.items():
            wheel.writestr(member, text)
    return path


def write_sdist(folder: Path, name: str, version: str, files: dict[str, str], meta: str = "") -> Path:
    """A real sdist (``name-version.tar.gz`` holding PKG-INFO and a ``src/`` layout)."""
    stem = f"{name.replace('-', '_')}-{version}"
    members = {f"{stem}/{path}": textwrap.dedent(text) for path, text in files.items()}
    members[f"{stem}/PKG-INFO"] = metadata_text(name, version, meta)
    # An in-tree PEP 517 backend that needs nothing from an index: pip reads the metadata through it.
    build = '[build-system]\nrequires = []\nbuild-backend = "metadata_backend"\nbackend-path = ["."]\n'
    members[f"{stem}/pyproject.toml"] = build
    members[f"{stem}/metadata_backend.py"] = BACKEND.format(dist_info=f"{stem}.dist-info")
    path = folder / f"{stem}.tar.gz"
    with tarfile.open(path, "w:gz") as sdist:
        for member, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            sdist.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> Path:
    """A local --find-links folder: two releases of one package, an sdist that vendors a file of
    it, and packages that cannot give rows."""
    folder = tmp_path_factory.mktemp("wheels")
    requires_warp = "Requires-Dist: warp-lang>=1.0\n"
    write_wheel(folder, "wirp-pkg-a", "1.0.0", {"wirp_pkg_a/__init__.py": "", "wirp_pkg_a/ops.py": OPS}, requires_warp)
    a_next = {"wirp_pkg_a/__init__.py": "", "wirp_pkg_a/ops.py": OPS + NEW_KERNEL}
    write_wheel(folder, "wirp-pkg-a", "1.1.0", a_next, "License-Expression: MIT\n" + requires_warp)
    b_files = {"src/wirp_pkg_b/__init__.py": "", "src/wirp_pkg_b/helpers.py": HELPERS, "LICENSE": MIT}
    b_files["src/wirp_pkg_b/vendored.py"] = OPS  # a copy of wirp_pkg_a/ops.py
    write_sdist(folder, "wirp-pkg-b", "0.2.0", b_files, "License-File: LICENSE\n")
    write_wheel(folder, "wirp-newer", "1.0.0", {"wirp_newer/__init__.py": OPS}, "Requires-Dist: warp-lang>=99.0\n")
    write_wheel(folder, "wirp-nopy", "1.0.0", {"wirp_nopy_data/table.csv": "1,2\n"})
    write_wheel(folder, "wirp-evil", "1.0.0", {"wirp_evil/__init__.py": OPS, "../../wirp_escaped.py": OPS})
    return folder


@pytest.fixture
def offline(monkeypatch, tmp_path) -> Path:
    """pip with its index switched off (only --find-links folders), and a fresh cache."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("WARP_IR_PAIRS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def harvested(wheels: Path, *packages: str, **options):
    return harvest(HarvestOptions(packages=packages, pip=PipSource((str(wheels),)), **options))


def test_each_row_carries_its_package_version_and_licence(wheels, offline):
    """Provenance from the package: the file's own SPDX header first, else the package metadata
    (License-Expression; the licence file of an sdist), and the path inside the package."""
    result = harvested(wheels, "wirp-pkg-a==1.1.0", "wirp-pkg-b==0.2.0")
    found = {(s.origin, s.package, s.package_version, s.license) for s in result.specs}
    assert found == {
        ("wirp_pkg_a/ops.py::scale", "wirp-pkg-a", "1.1.0", "BSD-3-Clause"),  # the file's header wins
        ("wirp_pkg_a/ops.py::shift", "wirp-pkg-a", "1.1.0", "BSD-3-Clause"),
        ("wirp_pkg_b/helpers.py::squares", "wirp-pkg-b", "0.2.0", "MIT"),  # the sdist's LICENSE text
        ("wirp_pkg_b/vendored.py::scale", "wirp-pkg-b", "0.2.0", "BSD-3-Clause"),
    }
    assert result.skipped == []
    assert sorted(p.name for p in (offline / "packages" / "archives").iterdir()) == [
        "wirp_pkg_a-1.1.0-py3-none-any.whl",
        "wirp_pkg_b-0.2.0.tar.gz",
    ]


def test_a_cached_package_builds_with_no_network(wheels, offline):
    """The second harvest reads the cache: no --find-links, and an index on a closed local port."""
    first = harvested(wheels, "wirp-pkg-a==1.0.0")
    closed = PipSource(index_url="http://127.0.0.1:9/simple")
    again = harvest(HarvestOptions(packages=("wirp-pkg-a==1.0.0",), pip=closed))
    assert again.specs == first.specs and len(first.specs) == 1
    with pytest.raises(PackageError, match=r"^package 'wirp-pkg-b==0.2.0' could not be downloaded, and no cached"):
        harvest(HarvestOptions(packages=("wirp-pkg-b==0.2.0",), pip=closed))


@pytest.mark.parametrize(
    "package, message",
    [
        ("wirp-no-such-package", r"^package 'wirp-no-such-package' could not be downloaded.*No matching distribution"),
        ("wirp-pkg-a==9.9", r"^package 'wirp-pkg-a==9.9' could not be downloaded.*No matching distribution"),
        ("wirp-evil", r"^wirp_evil-1.0.0-py3-none-any.whl holds the path '../../wirp_escaped.py', which leaves"),
        ("wirp pkg a", r"^packages: 'wirp pkg a' is not a pip requirement such as 'name==1.2.3'"),
    ],
)
def test_a_package_that_cannot_be_had_is_one_line_naming_it(wheels, offline, package, message):
    with pytest.raises(PackageError, match=message) as raised:
        harvested(wheels, package)
    assert "\n" not in str(raised.value)
    assert not list(offline.parent.rglob("wirp_escaped.py"))


def test_a_tar_whose_link_leaves_its_folder_is_refused(offline):
    """Unpacking checks what pip does not: a cached sdist (pip itself refuses such a tar on download)."""
    links = offline / "packages" / "archives"
    links.mkdir(parents=True)
    path = links / "wirp_link-1.0.0.tar.gz"
    with tarfile.open(path, "w:gz") as sdist:
        info = tarfile.TarInfo("wirp_link-1.0.0/evil.py")
        info.type, info.linkname = tarfile.SYMTYPE, "../../../etc/passwd"
        sdist.addfile(info)
    with pytest.raises(PackageError, match=r"holds the path '.*etc/passwd', which leaves the folder"):
        harvest(HarvestOptions(packages=("wirp-link",)))
    assert not (offline / "packages" / "unpacked" / path.name).exists()


def test_packages_that_give_nothing_are_counted_skips_naming_them(wheels, offline):
    result = harvested(wheels, "wirp-newer", "wirp-nopy", "wirp-pkg-a==1.0.0")
    assert [(f.kind, f.package) for f in result.skipped] == [
        ("needs_other_warp", "wirp-newer==1.0.0"),
        ("no_python_files", "wirp-nopy==1.0.0"),
    ]
    assert "requires warp-lang>=99.0; this build has Warp 1.19" in result.skipped[0].message
    assert len(result.specs) == 1


def test_repeats_across_packages_give_one_row_and_releases_share_a_split(wheels, offline):
    """A vendored copy and the same kernel in two releases are counted as ``duplicate``; a file
    of two releases (one origin) goes to one split whole."""
    options = BuildOptions(
        packages=("wirp-pkg-a==1.0.0", "wirp-pkg-a==1.1.0", "wirp-pkg-b==0.2.0"),
        find_links=(str(wheels),),
    )
    plan = plan_real(options)
    skips = {str(reason): n for split in plan.stats.values() for reason, n in split.skipped.items()}
    assert skips.get("harvest:duplicate") == 2  # 1.1.0's scale, and the vendored scale
    per_split = {
        split: sorted(f"{k.spec.origin}@{k.spec.package_version}" for k in kernels)
        for split, kernels in plan.items.items()
    }
    ops = [split for split, origins in per_split.items() if any("wirp_pkg_a/ops.py" in o for o in origins)]
    assert len(ops) == 1, per_split
    assert sorted(o for o in per_split[ops[0]] if "ops.py" in o) == [
        "wirp_pkg_a/ops.py::scale@1.0.0",
        "wirp_pkg_a/ops.py::shift@1.1.0",
    ]
    package_skips = {p: dict(s) for split in plan.stats.values() for p, s in split.package_skips.items()}
    assert {p: {str(r): n for r, n in s.items()} for p, s in package_skips.items()} == {
        "wirp-pkg-a==1.1.0": {"harvest:duplicate": 1},
        "wirp-pkg-b==0.2.0": {"harvest:duplicate": 1},
    }


def test_a_packages_file_builds_a_corpus_through_the_cli(wheels, offline, tmp_path):
    """One command, a requirements file with its --find-links line: rows honest, free of machine
    paths, each with its package; the card's table per package."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(f"# two packages\n--find-links {wheels}\nwirp-pkg-a==1.1.0\nwirp-pkg-b==0.2.0  # vendors a\n")
    out = tmp_path / "data"
    assert cli.main(["build", "real_cpu", "--packages-file", str(corpus), "--out", str(out)]) == 0
    job = json.loads((out / ".build" / "real_cpu" / "job.json").read_text())
    assert job["options"]["packages"] == ["wirp-pkg-a==1.1.0", "wirp-pkg-b==0.2.0"]
    assert job["options"]["packages_file"] is None
    import datasets

    loaded = datasets.load_dataset("parquet", data_dir=str(out / "real_cpu"))
    rows = [row for split in loaded.values() for row in split]
    assert sorted((r["metadata"]["package"], r["metadata"]["origin"]) for r in rows) == [
        ("wirp-pkg-a", "wirp_pkg_a/ops.py::scale"),
        ("wirp-pkg-a", "wirp_pkg_a/ops.py::shift"),
        ("wirp-pkg-b", "wirp_pkg_b/helpers.py::squares"),
    ]
    assert not [r["id"] for r in rows if any(MACHINE_TEXT.search(str(v)) for v in r.values())]
    assert dishonest_rows(rows, tmp_path) == []
    card = (out / "README.md").read_text()
    assert "| `real_cpu` | `wirp-pkg-b` | 0.2.0 | MIT | 1 | harvest:duplicate 1 |" in card
    assert str(wheels) not in card


def test_an_installed_package_by_import_name(tmp_path, monkeypatch):
    """``modules``: found on sys.path without importing it, with its distribution's provenance."""
    site = tmp_path / "site"
    (site / "wirp_mod").mkdir(parents=True)
    (site / "wirp_mod" / "__init__.py").write_text(textwrap.dedent(HELPERS) + "\nraise SystemExit('imported')\n")
    dist_info = site / "wirp_mod-2.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        metadata_text("wirp-mod", "2.0", "Classifier: License :: OSI Approved :: MIT License\n")
    )
    (dist_info / "RECORD").write_text("wirp_mod/__init__.py,,\n")
    monkeypatch.syspath_prepend(str(site))
    found = module_roots("wirp_mod")
    assert (found.provenance.name, found.provenance.version, found.provenance.license) == ("wirp-mod", "2.0", "MIT")
    specs = harvest(HarvestOptions(modules=("wirp_mod",))).specs
    assert [(s.origin, s.package, s.package_version) for s in specs] == [
        ("wirp_mod/__init__.py::squares", "wirp-mod", "2.0")
    ]
    rows = list(build_rows([PlannedKernel(0, specs[0])], "cpu", BuildOptions(), BuildStats()))
    assert rows[0]["metadata"]["package"] == "wirp-mod"
    with pytest.raises(ValueError, match=r"modules: no installed module 'wirp_absent'"):
        module_roots("wirp_absent")


@pytest.mark.parametrize(
    "values, message",
    [
        ({"packages": ["ok==1", 3]}, r"packages must be a list of pip requirements"),
        ({"modules": ["a.b"]}, r"modules must be top-level import names such as 'skrl', got \['a.b'\]"),
        ({"packages_file": "no-such-file.txt"}, r"packages_file must be an existing file, got 'no-such-file.txt'"),
    ],
)
def test_bad_package_options_are_named(values, message):
    with pytest.raises(ValueError, match=message):
        parse_options("real_cpu", values)


def test_a_bad_package_on_the_command_line_is_one_line_and_no_traceback(wheels, offline, tmp_path, capsys):
    args = ["build", "real_cpu", "--packages", "wirp-pkg-a==9.9", "--find-links", str(wheels), "--out", str(tmp_path)]
    assert cli.main(args) == 2
    error = capsys.readouterr().err
    assert "package 'wirp-pkg-a==9.9' could not be downloaded" in error and "Traceback" not in error


FACTORY = """
    import warp as wp


    def make_offset(offset: float):
        @wp.kernel
        def offset_by(a: wp.array(dtype=float)):
            i = wp.tid()
            a[i] = a[i] + offset

        return offset_by
    """
FACTORY_TESTS = """
    import warp as wp

    from wirp_pkg_t.ops import make_offset


    def test_offsets():
        for offset in (1.0, 2.0):
            wp.launch(make_offset(offset), dim=4, inputs=[wp.zeros(4, dtype=float, device="cpu")], device="cpu")
    """


def test_run_mode_on_a_package_by_name_runs_the_tests_of_its_sdist(tmp_path, offline):
    """Run mode on ``packages=``: the wheel gives the code, the same release's sdist the tests that
    exercise it, unpacked as safely; the factory products those tests make are rows (import mode
    makes none), each naming its test file, honest in a fresh process. A release with no sdist is
    imported only, and says so in a counted skip."""
    folder = tmp_path / "links"
    folder.mkdir()
    code = {"wirp_pkg_t/__init__.py": "", "wirp_pkg_t/ops.py": FACTORY}
    write_wheel(folder, "wirp-pkg-t", "1.0.0", code, "License-Expression: MIT\n")
    tests = {"src/wirp_pkg_t/__init__.py": "", "src/wirp_pkg_t/ops.py": FACTORY, "tests/test_ops.py": FACTORY_TESTS}
    write_sdist(folder, "wirp-pkg-t", "1.0.0", tests)
    write_wheel(folder, "wirp-pkg-a", "1.0.0", {"wirp_pkg_a/__init__.py": "", "wirp_pkg_a/ops.py": OPS})

    found = harvested(folder, "wirp-pkg-t", "wirp-pkg-a", mode="run")
    made = sorted(
        (s.package_key, json.loads(s.recipe).get("built_by", "")) for s in found.specs if s.name == "offset_by"
    )
    assert made == [("wirp-pkg-t==1.0.0", "tests/test_ops.py::test_offsets")] * 2, made
    assert {s.name for s in found.specs if s.package_key == "wirp-pkg-a==1.0.0"} == {"scale"}  # imported
    no_tests = [f for f in found.skipped if f.kind == "no_tests"]
    assert [f.package for f in no_tests] == ["wirp-pkg-a==1.0.0"] and "no sdist" in no_tests[0].message
    assert not [s for s in harvested(folder, "wirp-pkg-t", mode="import").specs if s.name == "offset_by"]

    options = BuildOptions(packages=("wirp-pkg-t",), harvest="run", find_links=(str(folder),))
    kernels = [kernel for split in plan_real(options).items.values() for kernel in split]
    rows = list(build_rows(kernels, "cpu", options, BuildStats()))
    assert len([row for row in rows if row["kernel_name"] == "offset_by"]) == 2
    assert dishonest_rows(rows, tmp_path) == []
