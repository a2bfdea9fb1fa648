"""fiscal package."""
