"""SQL storage of agents, their config versions, intentions and leads."""
