"""The Textual cockpit. Only this package imports textual; the core stays usable without it."""
