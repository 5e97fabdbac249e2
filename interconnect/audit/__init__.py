"""The fleet audit: its model, checks, inventory reader, service and topology pictures (pure text)."""
