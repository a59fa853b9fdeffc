"""Conformance: the report model and its renderers (later: the catalogue, judge and suites)."""
