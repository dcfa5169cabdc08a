"""Server-rendered pages (Jinja2 + htmx): the applicant's mobile pages and the agency's workbench."""
