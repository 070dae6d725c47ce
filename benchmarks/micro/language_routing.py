"""How well ``search.language.detect_tower`` routes photo queries, next to two language identifiers.

A hand-written list of short photo-search queries: English ones (should go to CLIP's own tower) and ones in other
languages, Latin-script (German, French, Spanish, Italian, Portuguese, Dutch, Swedish, Polish, Turkish,
Indonesian, Vietnamese) and other scripts (should go to the multilingual tower). Prints accuracy per group and
the misrouted queries, for xmr's heuristic and, when installed, ``py3langid`` and ``lingua-language-detector``
(counted as "English" when they say ``en``), with each one's time per query.

Usage: python -m benchmarks.micro.language_routing
"""

from __future__ import annotations

import json
import time

ENGLISH = [
    "dog", "cat", "beach", "sunset", "snow", "car", "tree", "flowers", "mountains", "birthday cake",
    "kids on a red slide", "beach + sunset - people", "a dog in the snow", "grandma with the red bike",
    "my friends at a party", "a cat sleeping on a sofa", "sunset over the sea", "a picture of a tree",
    "wedding", "christmas tree", "fireworks", "a red car", "old town at night", "horse", "lake with boats",
    "the eiffel tower", "a bowl of fruit", "coffee cup", "two people hiking", "baby smiling", "rainbow",
    "city skyline", "autumn leaves", "a bridge over a river", "graduation", "concert crowd", "pizza",
    "a man on a bike", "kids playing football", "the kitchen", "garden", "waterfall", "desert road",
    "black and white portrait", "street food", "a boat in the harbour", "mountain lake", "forest path",
    "snowman", "the dog on the couch", "selfie", "screenshot", "receipt", "whiteboard notes", "passport",
    "sunrise at the beach", "a plane in the sky", "birthday party with balloons", "cows in a field",
    "red dress", "a girl with a balloon", "a castle", "swimming pool", "camping tent", "bicycle",
    "t-shirt", "2-year-old with a cake", "dinner table", "hospital", "museum", "train station",
    "a bird on a branch", "night sky with stars", "the old house", "a cat and a dog", "my car",
    "picnic in the park", "rain", "umbrella", "lighthouse", "sailing", "ski trip", "halloween costume",
    "a red circle", "green square", "kids on the beach", "family dinner", "rex on the beach",
]
OTHER_LATIN = [
    # German
    "Oma mit dem roten Fahrrad", "Hund im Schnee", "Sonnenuntergang am Meer", "die Katze auf dem Sofa",
    "Kinder auf der Rutsche", "Geburtstagskuchen", "Weihnachtsbaum", "Hochzeit", "Berge und See", "Straße bei Nacht",
    # French
    "un chien dans la neige", "coucher de soleil sur la mer", "le chat sur le canapé", "gâteau d'anniversaire",
    "la plage avec des gens", "enfants sur le toboggan", "voiture rouge", "arbre de Noël", "mariage", "fête",
    # Spanish
    "perro en la nieve", "puesta de sol en la playa", "el gato en el sofá", "niños en el tobogán",
    "pastel de cumpleaños", "coche rojo", "árbol de navidad", "boda", "montañas con nieve", "la abuela con la bici",
    # Italian
    "cane nella neve", "tramonto sul mare", "il gatto sul divano", "torta di compleanno", "bambini sullo scivolo",
    "la spiaggia con gli ombrelloni", "macchina rossa", "matrimonio",
    # Portuguese
    "cachorro na neve", "pôr do sol na praia", "o gato no sofá", "bolo de aniversário", "crianças no escorregador",
    # Dutch
    "hond in de sneeuw", "zonsondergang op het strand", "de kat op de bank", "verjaardagstaart", "kinderen op de glijbaan",
    # Swedish / Danish / Norwegian
    "hund i snön", "solnedgång vid havet", "katten på soffan", "barn på rutschkanan", "födelsedagstårta",
    "hund på stranden", "bil og båd",
    # Polish
    "pies na śniegu", "zachód słońca nad morzem", "kot na kanapie", "tort urodzinowy", "dzieci na zjeżdżalni",
    # Turkish
    "karda köpek", "deniz üzerinde gün batımı", "kanepede kedi", "doğum günü pastası",
    # Indonesian
    "anjing di salju", "matahari terbenam di pantai", "kucing di sofa", "kue ulang tahun", "anak-anak di perosotan",
    # Vietnamese
    "con chó trong tuyết", "hoàng hôn trên biển", "bánh sinh nhật",
]
OTHER_SCRIPTS = [
    "雪山日落", "孩子在红色滑梯上", "红色的车", "海边的日落", "猫", "生日蛋糕", "奶奶的红色自行车",
    "雪の中の犬", "夕焼けの海", "誕生日ケーキ", "猫がソファで寝ている",
    "눈 속의 강아지", "바다 위의 일몰", "생일 케이크",
    "собака в снегу", "закат над морем", "кошка на диване", "торт на день рождения",
    "σκύλος στο χιόνι", "ηλιοβασίλεμα στη θάλασσα",
    "كلب في الثلج", "غروب الشمس على البحر",
    "כלב בשלג", "שקיעה על הים",
    "สุนัขในหิมะ", "พระอาทิตย์ตก",
    "बर्फ में कुत्ता", "समुद्र पर सूर्यास्त",
    "ძაღლი თოვლში", "շուն ձյան մեջ",
]


def _time_per_query(fn, texts) -> float:
    started = time.perf_counter()
    for text in texts:
        fn(text)
    return (time.perf_counter() - started) / len(texts) * 1e6


def classifiers() -> dict[str, object]:
    """name -> function(text) -> True when it would send the text to CLIP's own (English) tower."""
    from xmr_desktop.search.language import ENGLISH_TOWER, detect_tower

    found: dict[str, object] = {"xmr heuristic": lambda text: detect_tower(text) == ENGLISH_TOWER}
    try:
        import py3langid

        found["py3langid"] = lambda text: py3langid.classify(text)[0] == "en"
    except ImportError:
        pass
    try:
        from lingua import Language, LanguageDetectorBuilder

        detector = LanguageDetectorBuilder.from_all_languages().build()
        found["lingua (all languages)"] = lambda text: detector.detect_language_of(text) == Language.ENGLISH
    except ImportError:
        pass
    return found


def main() -> None:
    groups = {"English": (ENGLISH, True), "other Latin-script": (OTHER_LATIN, False), "other scripts": (OTHER_SCRIPTS, False)}
    results = {}
    for name, is_english in classifiers().items():
        row = {}
        for group, (texts, english) in groups.items():
            wrong = [t for t in texts if is_english(t) != english]  # type: ignore[operator]
            row[group] = {"accuracy": round(1 - len(wrong) / len(texts), 3), "n": len(texts), "misrouted": wrong}
        row["us_per_query"] = round(_time_per_query(is_english, ENGLISH + OTHER_LATIN), 1)
        results[name] = row
        print(f"{name}: " + ", ".join(f"{g} {row[g]['accuracy']:.1%} of {row[g]['n']}" for g in groups)
              + f"; {row['us_per_query']} µs/query")
        for group in groups:
            if row[group]["misrouted"]:
                print(f"  misrouted {group}: {', '.join(row[group]['misrouted'])}")
    print(json.dumps({"language_routing": results}, ensure_ascii=False))


if __name__ == "__main__":
    main()
