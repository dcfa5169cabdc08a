"""HTTP around the domains' routes: the edge (security headers, the renewed session cookie, the access log and
metrics: edge.py), the body limit (limits.py) and the hot GET routes answered one layer in (hotpaths.py)."""
