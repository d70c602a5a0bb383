"""Eviction models live here; EvictionRequest, PodEviction and EvictionAttempt arrive with the engine."""
