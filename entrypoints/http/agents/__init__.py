"""HTTP face of the agents area (contract §4 MappingService)."""
