"""The viewer's background decoding: off the GUI thread, the newest request only, changed photos decoded again."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from PIL import Image

from xmr_desktop.ui import photo_decode
from xmr_desktop.ui.viewer_loader import DecodeCache, ViewerLoader, ViewImage, ViewProblem


def _png(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (200, 100)) -> str:
    Image.new("RGB", size, colour).save(path)
    return str(path)


def test_a_request_is_answered_off_the_gui_thread(qtbot: Any, tmp_path: Path, monkeypatch: Any) -> None:
    threads: list[threading.Thread] = []
    real = photo_decode.decode_to_fit
    monkeypatch.setattr(photo_decode, "decode_to_fit", lambda *a, **k: threads.append(threading.current_thread()) or real(*a, **k))
    loader = ViewerLoader()
    path = _png(tmp_path / "red.png", (250, 0, 0))
    with qtbot.waitSignal(loader.ready, timeout=10_000) as answer:
        loader.request(path, (100, 100))
    image = answer.args[0]
    assert isinstance(image, ViewImage) and image.path == path
    assert (image.image.width(), image.image.height()) == (100, 50) and image.full_size == (200, 100)
    assert image.image.pixelColor(10, 10).red() > 240
    assert threads and threading.main_thread() not in threads
    loader.wait()


def test_only_the_newest_request_is_answered(qtbot: Any, tmp_path: Path, monkeypatch: Any) -> None:
    first, second = _png(tmp_path / "a.png", (250, 0, 0)), _png(tmp_path / "b.png", (0, 0, 250))
    release = threading.Event()
    started = threading.Event()
    real = photo_decode.decode_to_fit

    def slow_for_first(path: str, *args: Any, **kwargs: Any) -> Any:
        if path == first:
            started.set()
            release.wait(10)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(photo_decode, "decode_to_fit", slow_for_first)
    loader = ViewerLoader(threads=2)
    answers: list[Any] = []
    loader.ready.connect(answers.append)
    loader.request(first, (50, 50))
    assert started.wait(10)
    with qtbot.waitSignal(loader.ready, timeout=10_000):
        loader.request(second, (50, 50))
    release.set()  # the first decode now finishes, stale
    assert loader.wait(10_000)
    qtbot.wait(50)  # its queued answer, if any, would be delivered now
    assert [answer.path for answer in answers] == [second]


def test_a_photo_changed_on_disk_is_decoded_again(qtbot: Any, tmp_path: Path) -> None:
    path = _png(tmp_path / "p.png", (250, 0, 0))
    loader = ViewerLoader()
    with qtbot.waitSignal(loader.ready, timeout=10_000) as answer:
        loader.request(path, (80, 80))
    assert answer.args[0].image.pixelColor(5, 5).red() > 240
    with qtbot.waitSignal(loader.ready, timeout=10_000) as again:
        loader.request(path, (80, 80))
    assert again.args[0] is answer.args[0]  # unchanged: the cached decode
    _png(tmp_path / "p.png", (0, 0, 250))
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    with qtbot.waitSignal(loader.ready, timeout=10_000) as changed:
        loader.request(path, (80, 80))
    assert changed.args[0] is not answer.args[0] and changed.args[0].image.pixelColor(5, 5).blue() > 240
    loader.wait()


def test_a_bigger_box_decodes_again_and_problems_are_answers(qtbot: Any, tmp_path: Path) -> None:
    path = _png(tmp_path / "p.png", (0, 250, 0), (1000, 500))
    loader = ViewerLoader(max_pixels=1_000_000)
    with qtbot.waitSignal(loader.ready, timeout=10_000) as small:
        loader.request(path, (100, 100))
    assert small.args[0].covers((100, 100)) and not small.args[0].covers((400, 400))
    with qtbot.waitSignal(loader.ready, timeout=10_000) as large:
        loader.request(path, (400, 400))
    assert large.args[0].image.width() == 400
    too_big = _png(tmp_path / "big.png", (0, 0, 0), (1001, 1000))
    with qtbot.waitSignal(loader.ready, timeout=10_000) as refused:
        loader.request(too_big, (100, 100))
    assert isinstance(refused.args[0], ViewProblem) and refused.args[0].reason.startswith("Image too large (1001×1000 pixels")
    loader.wait()


def test_the_cache_is_bounded_by_bytes(qtbot: Any, tmp_path: Path) -> None:
    loader = ViewerLoader(cache_bytes=3 * 100 * 100 * 4)
    for number in range(5):
        path = _png(tmp_path / f"{number}.png", (number * 40, 0, 0), (100, 100))
        with qtbot.waitSignal(loader.ready, timeout=10_000):
            loader.request(path, (100, 100))
    assert loader.cache.bytes <= loader.cache.max_bytes == 120_000
    assert isinstance(loader.cache, DecodeCache)
    loader.wait()


def test_a_photo_being_decoded_ahead_is_not_decoded_twice_when_asked_for(qtbot: Any, tmp_path: Path, monkeypatch: Any) -> None:
    shown, ahead = _png(tmp_path / "a.png", (250, 0, 0)), _png(tmp_path / "b.png", (0, 0, 250))
    release, started = threading.Event(), threading.Event()
    decoded: list[str] = []
    real = photo_decode.decode_to_fit

    def gated(path: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(path)
        if path == ahead:
            started.set()
            release.wait(10)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(photo_decode, "decode_to_fit", gated)
    loader = ViewerLoader(threads=2)
    with qtbot.waitSignal(loader.ready, timeout=10_000):
        loader.request(shown, (60, 60))
    loader.prefetch([ahead], (60, 60))  # the next photo, decoded ahead
    assert started.wait(10)
    with qtbot.waitSignal(loader.ready, timeout=10_000) as answer:
        loader.request(ahead, (60, 60))  # the user moves on before it is done
        release.set()
    assert answer.args[0].path == ahead and decoded.count(ahead) == 1
    loader.wait()


def test_moving_on_cancels_the_running_decode_of_the_photo_left(qtbot: Any, tmp_path: Path, monkeypatch: Any) -> None:
    from xmr_desktop.ui.photo_decode import DecodeCancelled

    first, second = _png(tmp_path / "a.png", (250, 0, 0)), _png(tmp_path / "b.png", (0, 0, 250))
    started, cancelled = threading.Event(), []
    real = photo_decode.decode_to_fit

    def slow_first(path: str, box: Any, **kwargs: Any) -> Any:
        if path == first:
            started.set()
            cancelled.append(kwargs["cancel"].wait(10))  # a long decode, checking its cancel flag
            raise DecodeCancelled("decoding cancelled")
        return real(path, box, **kwargs)

    monkeypatch.setattr(photo_decode, "decode_to_fit", slow_first)
    loader = ViewerLoader(threads=2)
    answers: list[Any] = []
    loader.ready.connect(answers.append)
    loader.request(first, (50, 50))
    assert started.wait(10)
    with qtbot.waitSignal(loader.ready, timeout=10_000):
        loader.request(second, (50, 50))
    assert loader.wait(10_000)
    assert cancelled == [True] and [answer.path for answer in answers] == [second]
