"""xmr_desktop: find photos on your own disk by describing them."""

__version__ = "0.1.0"
