"""Mibo hospital-chain backend: the API process."""
__version__ = "0.1.0"
