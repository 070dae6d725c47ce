"""A synthetic photo collection's words: file and folder names, tags, captions and OCR text, seeded.

Shaped like a real library: most names are camera names (``IMG_1234``, ``DSC01234``, ``PXL_20230714_...``,
``微信图片_2023...``), some are descriptive (``passport_scan``, ``Trip to Rome``), folders by year and event,
a Zipf-distributed tag vocabulary, captions on a fifth of the photos, OCR text on a twentieth; a tenth of the
descriptive names and captions are Chinese. Used by the keyword benchmarks; nothing here is a real photo.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

ENGLISH_WORDS = """beach sunset mountain snow lake river forest city street market cafe restaurant museum church
castle bridge harbour boat train station airport hotel garden park flower tree dog cat horse bird birthday
wedding party concert dinner lunch breakfast family friends kids grandma grandpa holiday summer winter autumn
spring hiking skiing swimming camping festival parade fireworks christmas easter picnic desert island cliff
waterfall valley village farm bicycle car motorcycle bus night morning evening portrait selfie group team
school office kitchen living room bedroom balcony window door roof tower statue fountain square palace
""".split()

CHINESE_WORDS = """海边 日落 雪山 湖泊 河流 森林 城市 街道 市场 咖啡馆 餐厅 博物馆 教堂 城堡 大桥 港口 火车站 机场 酒店
花园 公园 鲜花 小狗 小猫 马 鸟 生日 婚礼 聚会 音乐会 晚餐 午餐 早餐 家人 朋友 孩子 奶奶 爷爷 假期 夏天 冬天 秋天
春天 徒步 滑雪 游泳 露营 节日 烟花 圣诞节 春节 野餐 沙漠 岛屿 瀑布 山谷 村庄 农场 自行车 汽车 夜景 早晨 傍晚
自拍 合影 学校 办公室 厨房 客厅 卧室 阳台 长城 故宫 天安门 西湖 黄山 北京 上海 杭州 成都 西安 广州 深圳 香港 台北
东京 巴黎 伦敦 罗马 护照 身份证 发票 收据 截图 文件 合同 菜单 车票 登机牌""".split()

PLACES = """Rome Paris Lisbon Porto Berlin Munich Vienna Prague Tokyo Kyoto Beijing Shanghai London Dublin Oslo
Stockholm Madrid Barcelona Venice Florence Athens Istanbul Cairo Sydney Boston Chicago Seattle Montreal""".split()

# Rare, specific words the fusion benchmark plants in one file each (a name, a tag or OCR text).
RARE_WORDS = """passport invoice receipt visa ticket contract diploma certificate prescription warranty
boarding license insurance mortgage payslip vaccination transcript lease permit manual""".split()


def zipf_choice(rng: random.Random, words: list[str], s: float = 1.1) -> str:
    """One word, the i-th with probability ∝ 1 / (i + 1)^s (a few very common tags, a long tail)."""
    weights = [1.0 / (i + 1) ** s for i in range(len(words))]
    return rng.choices(words, weights=weights, k=1)[0]


def camera_name(rng: random.Random, n: int) -> str:
    year, month, day = rng.randint(2015, 2024), rng.randint(1, 12), rng.randint(1, 28)
    kind = rng.random()
    if kind < 0.45:
        return f"IMG_{n % 10000:04d}"
    if kind < 0.6:
        return f"DSC{n % 100000:05d}"
    if kind < 0.75:
        return f"PXL_{year}{month:02d}{day:02d}_{rng.randint(0, 235959):06d}"
    if kind < 0.85:
        return f"微信图片_{year}{month:02d}{day:02d}{rng.randint(0, 235959):06d}"
    if kind < 0.93:
        return f"Screenshot {year}-{month:02d}-{day:02d} at {rng.randint(0, 23)}.{rng.randint(0, 59):02d}.{rng.randint(0, 59):02d}"
    return f"photo_{year}_{n % 1000:03d}"


def descriptive_name(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return "_".join(rng.sample(CHINESE_WORDS, 2)) + f"_{rng.randint(1, 99)}"
    words = rng.sample(ENGLISH_WORDS, rng.randint(1, 3))
    style = rng.random()
    if style < 0.4:
        return "_".join(words)
    if style < 0.7:
        return " ".join(w.capitalize() for w in words)
    return "".join(w.capitalize() for w in words)


def caption(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return "".join(rng.sample(CHINESE_WORDS, rng.randint(2, 4)))
    words = [zipf_choice(rng, ENGLISH_WORDS) for _ in range(rng.randint(3, 8))]
    return "A photo of " + " ".join(words)


def ocr_text(rng: random.Random) -> str:
    words = [zipf_choice(rng, ENGLISH_WORDS, 0.8) for _ in range(rng.randint(10, 60))]
    numbers = [str(rng.randint(1, 9999)) for _ in range(rng.randint(1, 6))]
    return " ".join(words + numbers)


def documents(count: int, seed: int = 0) -> Iterator[tuple[int, dict[str, str]]]:
    """``(file_id, {field: text})`` for ``count`` photos, file ids 1..count."""
    rng = random.Random(seed)
    events = [f"{rng.choice(['Trip to', 'Weekend in', 'Holiday'])} {rng.choice(PLACES)}" for _ in range(150)]
    events += ["".join(rng.sample(CHINESE_WORDS, 2)) for _ in range(30)]
    for file_id in range(1, count + 1):
        year = rng.randint(2015, 2024)
        folder = f"/home/user/Pictures/{year}/{rng.choice(events)}"
        name = descriptive_name(rng) if rng.random() < 0.15 else camera_name(rng, file_id)
        fields = {"name": name, "folder": folder}
        if rng.random() < 0.3:
            fields["keywords"] = "; ".join({zipf_choice(rng, ENGLISH_WORDS) for _ in range(rng.randint(1, 5))})
        if rng.random() < 0.2:
            fields["caption"] = caption(rng)
        if rng.random() < 0.05:
            fields["ocr"] = ocr_text(rng)
        yield file_id, fields


def queries(seed: int = 1) -> list[str]:
    """A query mix: one rare word, a common tag, a place, a Chinese word, a camera prefix, two-word queries."""
    rng = random.Random(seed)
    mix = []
    for _ in range(10):
        mix.append(rng.choice(ENGLISH_WORDS))
        mix.append(f"{rng.choice(ENGLISH_WORDS)} {rng.choice(ENGLISH_WORDS)}")
        mix.append(rng.choice(PLACES))
        mix.append(rng.choice(CHINESE_WORDS))
        mix.append(f"photo of a {rng.choice(ENGLISH_WORDS)} 2023")
    mix += ["img", "screenshot", "passport", "微信图片", "IMG_1234", '"NEAR(a b)" OR -x*']
    return mix
