"""Every state change of eviction requests and pod evictions, each with its audit event in one transaction."""
