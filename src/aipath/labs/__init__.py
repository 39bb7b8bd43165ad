"""The lab catalogue: manifests, discovery, validation and the prerequisite graph."""

from aipath.labs.catalogue import CONTENT_DIR, Catalogue, Lab, load_catalogue, load_manifest
from aipath.labs.manifest import LabManifest

__all__ = ["CONTENT_DIR", "Catalogue", "Lab", "LabManifest", "load_catalogue", "load_manifest"]
