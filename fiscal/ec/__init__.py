"""Ecuador: SRI electronic tax documents."""
