"""The alb product of the emulator (Application Load Balancer, API 2020-06-16)."""
