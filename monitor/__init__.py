"""thai-news-monitor: watch Thai government news for cybersecurity and ASEAN items."""

__version__ = "0.1.0"
