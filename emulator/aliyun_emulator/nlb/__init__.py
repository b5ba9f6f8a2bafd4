"""The nlb product of the emulator (Network Load Balancer, API 2022-04-30)."""
