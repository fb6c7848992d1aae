"""Composition root: settings, channel adapters, HTTP server, command line."""
