"""What the library holds, as the query reader needs it: its cameras, and whether it has photos from a place.

A query word becomes a camera or place filter only when the library has photos it would keep ("nice sunset"
is not a search in Nice unless you have been to Nice; "with the Fuji" means the Fuji you own). The live
implementation, ``metadata.vocabulary.LibraryVocabulary``, asks the index; ``StaticVocabulary`` is for tests
and benchmarks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class CameraName:
    """One camera of the library: ``camera`` as stored (``Apple iPhone 12``), its brand and model, photo count."""

    camera: str
    brand: str | None
    model: str | None
    count: int = 1


class Vocabulary(Protocol):
    """The library's cameras and places."""

    def cameras(self) -> Sequence[CameraName]: ...

    def has_country(self, code: str) -> bool: ...

    def has_region(self, country_code: str, region_code: str) -> bool: ...

    def has_city(self, city_id: int, latitude: float, longitude: float, radius_km: float) -> bool: ...


@dataclass
class StaticVocabulary:
    """A fixed vocabulary. ``places=None`` means "any place is present" (every place name is taken).

    Attributes:
        camera_names: the cameras.
        places: ``(latitude, longitude)`` of photos, or None.
        countries, regions: present country codes and (country, region) pairs, besides those of ``places``.
    """

    camera_names: list[CameraName] = field(default_factory=list)
    places: list[tuple[float, float]] | None = None
    countries: set[str] = field(default_factory=set)
    regions: set[tuple[str, str]] = field(default_factory=set)
    city_ids: set[int] = field(default_factory=set)

    @classmethod
    def of(cls, cameras: Iterable[str] = (), **kwargs: object) -> "StaticVocabulary":
        """Cameras given as stored names, e.g. ``StaticVocabulary.of(["Apple iPhone 12", "FUJIFILM X-T3"])``."""
        from xmr_desktop.metadata.camera import normalise_camera

        names = []
        for camera in cameras:
            brand, _, model = camera.partition(" ")
            _, normal_brand, _ = normalise_camera(brand, None)
            names.append(CameraName(camera, normal_brand or brand, model or None))
        return cls(camera_names=names, **kwargs)  # type: ignore[arg-type]

    def cameras(self) -> Sequence[CameraName]:
        return self.camera_names

    def has_country(self, code: str) -> bool:
        return self.places is None or code in self.countries

    def has_region(self, country_code: str, region_code: str) -> bool:
        return self.places is None or (country_code, region_code) in self.regions

    def has_city(self, city_id: int, latitude: float, longitude: float, radius_km: float) -> bool:
        if self.places is None or city_id in self.city_ids:
            return True
        return any(distance_km(latitude, longitude, lat, lon) <= radius_km for lat, lon in self.places)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(a)))
