"""actors/runtime package."""
