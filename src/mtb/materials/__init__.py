"""Uploaded materials: content checks, storage, and the generated application form."""
