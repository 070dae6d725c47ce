"""What xmr reads from photos besides pixels: date taken, camera, GPS and place, tags, rating, size, type.

Qt-free and TensorFlow-free. ``reader.read_metadata`` reads one photo (or takes the decode worker's already-open
Pillow image), ``places.Gazetteer`` turns GPS into city / region / country offline, ``storage`` keeps it in the
index and answers filters.
"""
