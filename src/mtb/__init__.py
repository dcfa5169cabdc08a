"""MTB (慢特病): outpatient special and chronic disease filing and review."""
