"""Helpers for testing code that uses images_async without calling the real Images API."""
