"""AVS vocabulary: resource ids, the resources ARM reports, address space, permissions and the gateway port. No I/O."""
