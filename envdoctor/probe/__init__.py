"""Probes: the only code that reads the machine. Each returns a frozen dataclass from `envdoctor.facts`."""
