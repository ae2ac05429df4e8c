"""Video Enhancer: a self-hostable backend for AI video super-resolution."""

__version__ = "0.1.0"
