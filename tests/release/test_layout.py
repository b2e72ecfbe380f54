import pytest

from kemo_attention.errors import DataError
from kemo_attention.release.layout import find_release

from release_writer import write_csv, write_release


def test_subject_files_under_subjdata(small_release):
    layout = find_release(small_release)
    assert layout.esm_path == small_release.resolve() / "SubjData" / "EsmResponse.csv"
    assert layout.userinfo_path == small_release.resolve() / "SubjData" / "UserInfo.csv"
    assert list(layout.participants) == ["P01", "P02"]
    assert layout.participants["P02"] == small_release.resolve() / "Sensor" / "P02"


def test_subject_files_at_root(tmp_path):
    root = write_release(tmp_path / "r", {"P01": {"HR": [1, 2]}}, subject_dir=False)
    layout = find_release(str(root))
    assert layout.esm_path == root.resolve() / "EsmResponse.csv"
    assert layout.userinfo_path == root.resolve() / "UserInfo.csv"


def test_names_matched_in_any_case_and_codes_in_natural_order(tmp_path):
    root = tmp_path / "r"
    write_csv(root / "subjdata" / "esmresponse.csv", ["pcode"], [])
    for code in ("P10", "P2", "P01"):
        (root / "sensor" / code).mkdir(parents=True)
    (root / "sensor" / "notes").mkdir()
    layout = find_release(root)
    assert layout.esm_path.name == "esmresponse.csv"
    assert layout.userinfo_path is None
    assert list(layout.participants) == ["P01", "P2", "P10"]


def test_not_a_release_names_what_was_looked_for(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"not a K-EmoPhone release: looked for SubjData/EsmResponse.csv or EsmResponse.csv.*Sensor/P\*/"):
        find_release(tmp_path / "empty")


def test_not_a_release_points_to_a_nested_release(tmp_path):
    write_release(tmp_path / "download" / "K-EmoPhone", {"P01": {"HR": [1]}})
    with pytest.raises(DataError, match="K-EmoPhone looks like a release: pass that folder instead"):
        find_release(tmp_path / "download")


def test_missing_folder_and_file_instead_of_folder(tmp_path):
    with pytest.raises(DataError, match="release folder not found"):
        find_release(tmp_path / "nope")
    (tmp_path / "f.csv").write_text("x")
    with pytest.raises(DataError, match="expected a release folder, got a file"):
        find_release(tmp_path / "f.csv")
