"""A small async client and the hand-written base of its sync facade, for the generator's tests.

``fixture_sync.py`` is generated from ``fixture_async.py`` by ``scripts/generate_sync.py``
(with the spec in ``tests/test_generate_sync.py``) and committed as the expected output; it
runs on the package's own sync runtime (``images_async._sync_runtime``).
"""
