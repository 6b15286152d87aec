"""Ports and helpers shared by every area."""
