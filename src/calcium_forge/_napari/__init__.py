"""napari plugin of calcium-forge: readers, writers, widgets, sample data, layers.

The only package that imports napari or Qt (in its widget modules); the pure
layer conversion lives in :mod:`calcium_forge._napari.layers`.
"""
