"""Function apps used only by the local host's tests."""
