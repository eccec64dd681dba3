"""envdoctor: is this PyTorch environment right for this hardware, and how fast does it train?"""

__version__ = "0.1.0"
