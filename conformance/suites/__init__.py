"""The live suites samsvar ships: ``fhir-api``, ``messaging``, ``security`` and ``smart``.

Each module declares one :class:`~samsvar.conformance.suite.Suite` as ``SUITE``;
:func:`samsvar.conformance.runner.discover` finds them and those of installed packages
(entry-point group ``samsvar.suites``).
"""
