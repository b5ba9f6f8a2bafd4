"""SLB state: the seeded load balancers, read-only, with the attributes the SDK models expect filled in."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from aliyun_emulator.seed import SeedAccount, SeedLoadBalancer

SEED_CREATE_TIME_MS = 1_704_067_200_000
"""2024-01-01T00:00:00Z: seeded load balancers all claim this creation time."""


INTERNET_CHARGE_CODES = {"paybybandwidth": "3", "paybytraffic": "4"}
"""DescribeLoadBalancers gives the metering method as a numeric code, the word in ``InternetChargeTypeAlias``."""


@dataclass(frozen=True)
class LoadBalancer:
    seed: SeedLoadBalancer
    account_id: str

    @property
    def arn(self) -> str:
        return f"acs:slb:{self.seed.region}:{self.account_id}:loadbalancer/{self.seed.id}"

    @property
    def address(self) -> str:
        """A stable private address derived from the id (the emulator has no network)."""
        digest = hashlib.sha256(self.seed.id.encode()).digest()
        return f"10.{digest[0]}.{digest[1]}.{max(digest[2], 1)}"

    def summary(self) -> dict[str, object]:
        return {
            "Address": self.address,
            "AddressIPVersion": "ipv4",
            "AddressType": "intranet",
            "Bandwidth": 5120,
            "CreateTime": "2024-01-01T00:00:00Z",
            "CreateTimeStamp": SEED_CREATE_TIME_MS,
            "DeleteProtection": "off",
            "InstanceChargeType": "PayBySpec",
            "InternetChargeType": INTERNET_CHARGE_CODES["paybytraffic"],
            "InternetChargeTypeAlias": "paybytraffic",
            "LoadBalancerId": self.seed.id,
            "LoadBalancerName": self.seed.name,
            "LoadBalancerSpec": "slb.s1.small",
            "LoadBalancerStatus": "active",
            "MasterZoneId": f"{self.seed.region}-a",
            "ModificationProtectionReason": "",
            "ModificationProtectionStatus": "NonProtection",
            "NetworkType": "vpc",
            "PayType": "PayOnDemand",
            "RegionId": self.seed.region,
            "RegionIdAlias": self.seed.region,
            "ResourceGroupId": self.seed.resource_group_id or "",
            "SlaveZoneId": f"{self.seed.region}-b",
            "Tags": {"Tag": []},
            "VSwitchId": "vsw-" + self.seed.id.removeprefix("lb-"),
            "VpcId": "vpc-" + self.seed.id.removeprefix("lb-"),
        }


def load_balancers(account: SeedAccount) -> dict[str, LoadBalancer]:
    return {lb.id: LoadBalancer(lb, account.uid) for lb in account.load_balancers}


@dataclass
class Listener:
    protocol: str
    status: str  # "running" | "stopped"


@dataclass
class Backends:
    """What the operator calls change on one load balancer: backend servers (id -> weight) and listeners by port.

    Every seeded load balancer starts with no backend servers and one running HTTP listener on port 80.
    """

    servers: dict[str, int]
    listeners: dict[int, Listener]


def backends(account: SeedAccount) -> dict[str, Backends]:
    return {lb.id: Backends({}, {80: Listener("http", "running")}) for lb in account.load_balancers}
