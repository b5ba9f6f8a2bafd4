"""The ecs product of the emulator (Elastic Compute Service, API 2014-05-26): instance reads and StopInstance."""
