"""The lab's Kubernetes API: an object store, controllers, the scheduler's placement, and the
HTTP face that serves them to real clients."""
