"""FOSSP: the FedoraOS Server Platform made real."""

__version__ = "0.1.0"
