"""The learner's workspace: creation, location, updates and resets."""

from aipath.workspace.locate import default_workspace_path, find_workspace
from aipath.workspace.model import Workspace

__all__ = ["Workspace", "default_workspace_path", "find_workspace"]
