"""samsvar: the open conformance suite for Norwegian health interoperability."""

__version__ = "0.1.0"
