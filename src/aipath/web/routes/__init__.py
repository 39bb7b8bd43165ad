"""The dashboard's routes, one module per area; ``aipath.web.app`` puts them together."""
