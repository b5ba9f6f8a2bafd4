"""The instances of the ALB, NLB and ECS products: seeded, with a name and a status their write calls change."""

from __future__ import annotations

from dataclasses import dataclass

from aliyun_emulator.seed import SeedLoadBalancer


@dataclass
class Instance:
    """One seeded instance; ``name`` and ``status`` change through the write calls the emulator serves."""

    id: str
    name: str
    region: str
    resource_group_id: str | None
    status: str

    @classmethod
    def from_seed(cls, seed: SeedLoadBalancer, status: str) -> Instance:
        return cls(seed.id, seed.name, seed.region, seed.resource_group_id, status)


def store(seeds: tuple[SeedLoadBalancer, ...], status: str) -> dict[str, Instance]:
    return {seed.id: Instance.from_seed(seed, status) for seed in seeds}
