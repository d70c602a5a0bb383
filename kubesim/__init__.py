"""kubesim: a local Kubernetes API simulator for eviction, PDBs, drains and fault injection."""

from kubesim.simulator import Simulator

__all__ = ["Simulator"]
