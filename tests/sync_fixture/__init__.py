"""A small async client and a stand-in sync runtime, for the tests of the sync generator.

``fixture_sync.py`` is generated from ``fixture_async.py`` by ``scripts/generate_sync.py``
(with the spec in ``tests/test_generate_sync.py``) and committed as the expected output.
"""
