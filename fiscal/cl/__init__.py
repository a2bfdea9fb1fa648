"""Chile: SII electronic tax documents."""
