"""Transfer learning you can measure (Qt-free).

- ``metrics``: Recall@K both ways, median/mean rank, several captions per image, pessimistic ties.
- ``pairs``: image–caption sets from CSV, COCO captions JSON or Karpathy-split JSON.
- ``evaluate``: ``xmr eval``; image vectors reused from the index or ``learn_db``'s cache (``image_vectors``).
- ``finetune`` + ``text_tower``: LiT, the text side tuned with the image tower locked; the result shares its base
  model's image vectors.
- ``two_tower`` + ``contrastive``: frozen keras.applications CNN + frozen BERT-family encoder, two trained heads.
- ``concepts``: personal names taught from a few photos, used inside queries (``concept_token``: the learned-token
  alternative, kept for the benchmark).
"""
