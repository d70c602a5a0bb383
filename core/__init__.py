"""App-free helpers every app may use: they import Django and DRF only, never a Drainboard app."""
