"""Demo data for `storehub seed-demo`."""
