"""Command registrations, one module per area (see aipath.cli)."""
