"""The viewer's details: rows only for what is known, metadata and match reasons slot in as plain values."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from xmr_desktop.search.results import SearchResult
from xmr_desktop.ui.details_model import DetailsModel
from xmr_desktop.ui.photo_details import PhotoDetails

RESULT = SearchResult("/photos/2024/beach.jpg", 0.31234, 2_512_345, 1_700_000_000.0, 4000, 3000)


@dataclass(frozen=True)
class Reason:
    """Stands for ``search.explain.MatchReason``: anything with ``label()``."""

    text: str

    def label(self) -> str:
        return self.text


def test_a_result_shows_name_folder_pixels_size_time_and_score_only() -> None:
    rows = {row.key: row.text for row in PhotoDetails.from_result(RESULT).rows()}
    assert list(rows) == ["name", "folder", "pixels", "size", "mtime", "score"]
    assert rows["name"] == "beach.jpg" and rows["folder"] == "/photos/2024"
    assert rows["pixels"] == "4000 × 3000 (12.0 MP)"
    assert rows["size"] == "2.4 MB (2,512,345 bytes)"
    assert rows["mtime"] == time.strftime("%Y-%m-%d %H:%M", time.localtime(1_700_000_000.0))
    assert rows["score"] == "0.312"


def test_unknown_pixels_are_hidden_and_later_details_fill_their_rows() -> None:
    details = PhotoDetails.from_result(SearchResult("/p/x.png", 0.2, 100, 0.0))
    assert "pixels" not in [row.key for row in details.rows()]
    details = details.updated({
        "width": 64, "height": 48, "date_taken": datetime(2023, 7, 14, 18, 5), "place": "Lisbon, Portugal",
        "camera": "Canon EOS R6", "match_reasons": [Reason("beach +62%"), "file name: beach"],
    })
    rows = {row.key: (row.label, row.text) for row in details.rows()}
    assert rows["date_taken"] == ("Taken", "2023-07-14 18:05")
    assert rows["place"] == ("Place", "Lisbon, Portugal")
    assert rows["camera"] == ("Camera", "Canon EOS R6")
    assert rows["pixels"] == ("Pixels", "64 × 48 (3,072 pixels)")
    assert rows["match_reasons"] == ("Why", "beach +62%\nfile name: beach")
    assert details.updated({"camera": None, "match_reasons": ()}).rows()[-1].key == "score"


def test_a_result_with_reasons_shows_them() -> None:
    @dataclass(frozen=True)
    class Explained(SearchResult):
        reasons: tuple[Any, ...] = ()

    result = Explained("/p/a.jpg", 0.5, 10, 0.0, reasons=(Reason("red +80%"), Reason("− people −5%")))
    assert PhotoDetails.from_result(result).rows()[-1].text == "red +80%\n− people −5%"


def test_photo_metadata_fills_taken_place_and_camera() -> None:
    from xmr_desktop.metadata.record import Place, PhotoMetadata, TakenAt
    from xmr_desktop.ui.photo_details import fields_from_metadata

    meta = PhotoMetadata(
        taken=TakenAt(datetime(2023, 7, 14, 10, 11), 120, "exif"), camera="FUJIFILM X-T3",
        place=Place("Lisbon", None, "PT", "Portugal", 2267057, "gps"),
    )
    rows = {row.key: row.text for row in PhotoDetails.from_result(RESULT).updated(fields_from_metadata(meta)).rows()}
    assert (rows["date_taken"], rows["place"], rows["camera"]) == ("2023-07-14 10:11", "Lisbon, Portugal", "FUJIFILM X-T3")
    # Only the file's modification time, no camera, no place: nothing to add.
    assert fields_from_metadata(PhotoMetadata(taken=TakenAt(datetime(2023, 1, 1), None, "mtime"))) == {}


def test_an_unknown_detail_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown photo detail"):
        PhotoDetails("/p/a.jpg").updated({"lens": "50 mm"})


def test_details_model_rows_and_the_model_tester(qtmodeltester: Any) -> None:
    model = DetailsModel()
    model.set_details(PhotoDetails.from_result(RESULT))
    qtmodeltester.check(model, force_py=True)  # and it watches every change below
    assert model.rowCount() == 6 and model.columnCount() == 2
    assert model.data(model.index(0, 0)) == "Name" and model.data(model.index(0, 1)) == "beach.jpg"
    assert model.data(model.index(0, 1), DetailsModel.KeyRole) == "name"
    assert model.text("camera") is None
    model.set_details(PhotoDetails.from_result(RESULT).updated({"camera": "Pixel 8"}))
    assert model.text("camera") == "Pixel 8" and "camera" in model.keys()
    model.set_details(PhotoDetails.from_result(RESULT).updated({"camera": "Pixel 9"}))  # same rows: dataChanged
    assert model.text("camera") == "Pixel 9"
    model.set_details(None)
    assert model.rowCount() == 0
    model.set_details(PhotoDetails.from_result(RESULT))
    qtmodeltester.check(model)
