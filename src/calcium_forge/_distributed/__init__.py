"""Internals of :mod:`calcium_forge.distributed` (inputs, manifest, worker task, cluster).

Nothing here is public API; import from :mod:`calcium_forge.distributed`.
"""
