"""Simulators that speak the devices' bytes: a virtual scale on a pseudo-terminal, a virtual network
printer."""
