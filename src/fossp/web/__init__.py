"""The web console and REST API of the stage gate process (`fossp serve`)."""
