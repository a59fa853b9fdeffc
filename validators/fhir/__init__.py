"""FHIR R4 validation: packages, definitions, formats and the checks."""
