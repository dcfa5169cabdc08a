"""Data leaving MTB for other systems: FHIR R4 resources (read API and bulk NDJSON) and CSV tables for
statisticians. Nothing here changes data; every export masks ID numbers and never carries card numbers."""
