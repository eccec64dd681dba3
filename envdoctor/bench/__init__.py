"""`envdoctor bench`: reference training workloads, measured in isolated child processes."""
