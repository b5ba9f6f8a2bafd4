"""ram-delegate: time-bound, least-privilege cross-account delegation on Alibaba Cloud."""

__version__ = "0.1.0"
