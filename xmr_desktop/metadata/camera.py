"""Camera names as people say them: ``Apple iPhone 12``, ``FUJIFILM X-T3``, ``Nikon D750``.

EXIF Make is a company name (``NIKON CORPORATION``, ``OLYMPUS IMAGING CORP.``) and Model often repeats it
(``Canon EOS R5``, ``NIKON D750``); the normalised camera is "brand model" with the brand once. The brand table
also serves the query side: the words people use for a camera family (``fuji``, ``lumix``, ``佳能``).
"""

from __future__ import annotations

import re

# Casefolded EXIF Make (after trimming company suffixes) -> the brand as shown.
_BRANDS: dict[str, str] = {
    "apple": "Apple", "canon": "Canon", "nikon": "Nikon", "fujifilm": "FUJIFILM", "fuji photo film": "FUJIFILM",
    "fuji": "FUJIFILM", "sony": "Sony", "sony ericsson": "Sony Ericsson", "samsung": "Samsung", "google": "Google",
    "huawei": "HUAWEI", "xiaomi": "Xiaomi", "redmi": "Xiaomi", "oneplus": "OnePlus", "olympus": "Olympus",
    "om digital solutions": "OM System", "panasonic": "Panasonic", "leica": "Leica", "leica camera": "Leica",
    "ricoh": "Ricoh", "pentax": "Pentax", "asahi optical": "Pentax", "kodak": "Kodak", "eastman kodak": "Kodak",
    "lge": "LG", "lg": "LG", "motorola": "Motorola", "hmd global": "Nokia", "nokia": "Nokia", "gopro": "GoPro",
    "dji": "DJI", "hasselblad": "Hasselblad", "sigma": "Sigma", "casio": "Casio", "oppo": "OPPO", "vivo": "vivo",
    "realme": "realme", "honor": "HONOR", "meizu": "Meizu", "zte": "ZTE", "htc": "HTC", "minolta": "Minolta",
    "konica minolta": "Konica Minolta", "phase one": "Phase One", "insta360": "Insta360", "arashi vision": "Insta360",
    "fairphone": "Fairphone", "nothing": "Nothing", "microsoft": "Microsoft", "blackberry": "BlackBerry",
}
_COMPANY_SUFFIX = re.compile(
    r"[\s,.]*(corporation|corp\.?|co\.?,?\s*ltd\.?|company|imaging|electronics|inc\.?|ltd\.?|gmbh|ag|"
    r"optical|computer|camera|mobile|technologies|technology|international)\b\.?",
    re.IGNORECASE,
)

# Words for a camera family in queries -> (brand, word the model must contain or None).
CAMERA_WORDS: dict[str, tuple[str, str | None]] = {
    "iphone": ("Apple", "iphone"), "ipad": ("Apple", "ipad"), "apple": ("Apple", None),
    "fuji": ("FUJIFILM", None), "fujifilm": ("FUJIFILM", None), "nikon": ("Nikon", None), "canon": ("Canon", None),
    "sony": ("Sony", None), "lumix": ("Panasonic", None), "panasonic": ("Panasonic", None),
    "pixel": ("Google", "pixel"), "google": ("Google", None), "galaxy": ("Samsung", None),
    "samsung": ("Samsung", None), "gopro": ("GoPro", None), "dji": ("DJI", None), "leica": ("Leica", None),
    "olympus": ("Olympus", None), "ricoh": ("Ricoh", None), "pentax": ("Pentax", None), "huawei": ("HUAWEI", None),
    "xiaomi": ("Xiaomi", None), "oneplus": ("OnePlus", None), "hasselblad": ("Hasselblad", None),
    "kodak": ("Kodak", None), "insta360": ("Insta360", None), "oppo": ("OPPO", None),
    "佳能": ("Canon", None), "尼康": ("Nikon", None), "索尼": ("Sony", None), "富士": ("FUJIFILM", None),
    "华为": ("HUAWEI", None), "華為": ("HUAWEI", None), "小米": ("Xiaomi", None), "三星": ("Samsung", None),
    "苹果": ("Apple", None), "蘋果": ("Apple", None), "徕卡": ("Leica", None), "大疆": ("DJI", None),
    "奥林巴斯": ("Olympus", None), "松下": ("Panasonic", None), "理光": ("Ricoh", None), "宾得": ("Pentax", None),
    "哈苏": ("Hasselblad", None), "谷歌": ("Google", None), "一加": ("OnePlus", None), "柯达": ("Kodak", None),
}
# Camera words that are also everyday words (an apple, pixel art, Mount Fuji, the galaxy, millet):
# they name a camera only after a cue such as "with the", "shot on", "用…拍".
AMBIGUOUS_CAMERA_WORDS = frozenset({"apple", "pixel", "galaxy", "fuji", "google", "苹果", "蘋果", "小米", "富士", "一加"})


def brand_of(make: str | None) -> str | None:
    """The brand for an EXIF Make: known companies by their usual name, others with suffixes trimmed."""
    if not make:
        return None
    trimmed = _COMPANY_SUFFIX.sub("", make.strip()).strip(" ,.")
    key = trimmed.casefold()
    if key in _BRANDS:
        return _BRANDS[key]
    first = key.split(" ")[0] if key else ""
    return _BRANDS.get(first, trimmed or make.strip())


def normalise_camera(make: str | None, model: str | None) -> tuple[str | None, str | None, str | None]:
    """``(camera, brand, model)``: ``("Apple iPhone 12", "Apple", "iPhone 12")``; Nones when nothing is known."""
    brand = brand_of(make)
    model_text = " ".join(model.split()) if model else None
    if model_text:
        words = model_text.split(" ")
        # Model names that repeat the make: "Canon EOS R5", "NIKON D750", "PENTAX K-1", "KODAK EASYSHARE C813".
        candidates = {w for w in (brand, make, (make or "").split(" ")[0], _BRANDS.get(words[0].casefold())) if w}
        if len(words) > 1 and any(words[0].casefold() == c.casefold() for c in candidates):
            model_text = " ".join(words[1:])
            brand = brand or words[0]
        elif brand is None:
            brand = _BRANDS.get(words[0].casefold())
    if not brand and not model_text:
        return None, None, None
    camera = " ".join(part for part in (brand, model_text) if part)
    return camera, brand, model_text
