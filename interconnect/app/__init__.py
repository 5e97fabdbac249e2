"""The edge: settings, the composition root, HTTP helpers, identity and the work-kind dispatch table."""
