"""Who is asking: the insured registry, real-name login, staff accounts and roles, tokens."""
