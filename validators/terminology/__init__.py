"""Offline terminology: code systems, value sets and concept maps from the loaded packages and
``profiles/terminology/``, with an explicit policy for code systems that are not available."""
