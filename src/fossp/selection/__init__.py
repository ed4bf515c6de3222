"""Role selection: wanted features -> roles -> a profile to deploy."""
