"""The local cloud: stand-ins for Azure Service Bus, ARM/AVS and Table Storage, plus a local Functions host.

Never deployed (see `.funcignore`). Production code reaches these only through the official Azure SDKs.
"""
