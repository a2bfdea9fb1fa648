"""Scale protocols over serial: Toledo 8217 and CAS PD-II, parsed strictly, and stable-weight detection."""
