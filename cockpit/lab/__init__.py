"""The simulated homelab: one world model on a clock, and the Kubernetes, Proxmox and
Tailscale faces that serve it on loopback to the real clients."""
