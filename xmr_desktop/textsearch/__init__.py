"""Keyword search: words from file and folder names, tags, captions and text in photos, fused with CLIP ranks.

Qt-free. ``tokens`` turns any text into index words (Latin folded, Chinese as character bigrams),
``keyword_index`` keeps them in SQLite FTS5 per file, ``fusion`` merges keyword hits into the semantic ranking.
"""
