"""interconnect: self-service, validated and audited links between Azure VMware Solution private clouds."""
