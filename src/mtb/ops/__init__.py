"""Operations on the whole installation (backup and restore); each domain keeps its own checks."""
