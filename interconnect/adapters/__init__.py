"""Adapters: the only code that imports Azure SDKs. Each translates SDK errors into `interconnect.errors`."""
