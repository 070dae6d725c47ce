"""The centre message page lays out long messages whole, at any window width."""

from __future__ import annotations

from typing import Any

import pytest

from xmr_desktop.ui.pages import MessagePage

LONG = ("Loading the model datacomp-b32 (ViT-B/32) for the first time on this computer. This takes a few seconds; "
        "searches answer as soon as it is ready.")


@pytest.mark.parametrize("width", [300, 900, 1600])
def test_a_long_message_is_wrapped_whole_not_clipped(qtbot: Any, width: int) -> None:
    page = MessagePage()
    qtbot.addWidget(page)
    page.set_text(LONG)
    page.resize(width, 500)
    page.show()
    qtbot.waitExposed(page)
    label = page.label
    assert label.width() >= min(560, width - 40)  # given its width (it used to get its first words' width)
    assert label.height() >= label.heightForWidth(label.width())  # tall enough for every wrapped line
