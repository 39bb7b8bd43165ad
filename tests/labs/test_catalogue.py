"""The lab catalogue: the packaged labs load, and broken manifests give one precise error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aipath.errors import AipathError
from aipath.labs import load_catalogue
from aipath.roadmap.loader import load_roadmap

FIXTURE = Path(__file__).parents[1] / "fixtures" / "labs"


def test_packaged_catalogue_is_valid_and_linked_to_the_roadmap() -> None:
    catalogue = load_catalogue()
    skills = {s.id for s in load_roadmap().all_skills()}
    assert len(catalogue) >= 1
    for lab in catalogue:
        assert set(lab.manifest.skills) <= skills
        assert lab.readme.is_file() and lab.starter.is_file() and lab.checks.is_file()
    ids = catalogue.ids()
    assert len(ids) == len(set(ids))
    for lab in catalogue:  # learning order respects prerequisites
        for req in lab.manifest.requires:
            assert ids.index(req) < ids.index(lab.id)


@pytest.fixture
def labs_copy(tmp_path: Path) -> Path:
    target = tmp_path / "labs"
    shutil.copytree(FIXTURE, target)
    return target


def manifest(root: Path) -> Path:
    return root / "p1" / "01-tiny" / "lab.toml"


def load_error(root: Path) -> str:
    with pytest.raises(AipathError) as info:
        load_catalogue(root)
    return str(info.value)


def test_toml_syntax_error_names_lab_and_file(labs_copy: Path) -> None:
    manifest(labs_copy).write_text('id = "p1-tiny\n')
    message = load_error(labs_copy)
    assert "p1/01-tiny/lab.toml" in message and "not valid TOML" in message


def test_wrong_type_names_the_field(labs_copy: Path) -> None:
    path = manifest(labs_copy)
    path.write_text(path.read_text().replace("minutes = 10", 'minutes = "ten"'))
    message = load_error(labs_copy)
    assert "lab.toml" in message and "minutes" in message


def test_unknown_field_is_rejected(labs_copy: Path) -> None:
    path = manifest(labs_copy)
    path.write_text(path.read_text() + "timout_s = 3\n")
    assert "timout_s" in load_error(labs_copy)


def test_missing_file_is_named(labs_copy: Path) -> None:
    (labs_copy / "p1" / "01-tiny" / "checks.py").unlink()
    assert "checks.py is missing" in load_error(labs_copy)


def test_prerequisite_cycle_is_rejected(labs_copy: Path) -> None:
    second = labs_copy / "p1" / "02-other"
    shutil.copytree(labs_copy / "p1" / "01-tiny", second)
    text = manifest(labs_copy).read_text()
    (second / "lab.toml").write_text(
        text.replace('id = "p1-tiny"', 'id = "p1-other"') + 'requires = ["p1-tiny"]\n'
    )
    manifest(labs_copy).write_text(text + 'requires = ["p1-other"]\n')
    assert "cycle" in load_error(labs_copy)


def test_duplicate_ids_are_rejected(labs_copy: Path) -> None:
    shutil.copytree(labs_copy / "p1" / "01-tiny", labs_copy / "p1" / "02-copy")
    assert "used twice" in load_error(labs_copy)


def test_lookup_by_fragment(labs_copy: Path) -> None:
    catalogue = load_catalogue(labs_copy)
    assert catalogue.get("tiny").id == "p1-tiny"
    with pytest.raises(AipathError, match="no lab called"):
        catalogue.get("zzz")
