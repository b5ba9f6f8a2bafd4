"""aliyun-emulator: a local Alibaba Cloud (RAM, STS, SLB, Resource Manager) for the unmodified official SDKs."""

__version__ = "0.1.0"
