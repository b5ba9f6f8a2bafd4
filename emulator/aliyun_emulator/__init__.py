"""aliyun-emulator: a local Alibaba Cloud (RAM, STS, Resource Manager, SLB, ALB, NLB, ECS) for the official SDKs."""

__version__ = "0.1.0"
