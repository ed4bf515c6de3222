"""Installation media from a profile: kickstart files (Fedora family) first; images and
OS containers follow the plan in docs/install-methods-plan.md."""
