"""The policy catalog: regions, channels, diseases, material rules and designated hospitals, as data."""
