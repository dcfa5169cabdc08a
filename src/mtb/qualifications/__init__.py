"""Approved filings (qualifications): what a person holds after approval, until it expires or changes."""
