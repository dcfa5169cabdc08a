"""The application aggregate: what is applied for, by whom, for whom; its states and its history."""
