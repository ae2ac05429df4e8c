"""A job's enhancement options: the enhancer and output height asked for, checked against the plan.

Neither is required: the enhancer defaults to the one the settings select and the output height
to the plan's maximum. Asking for more than the plan allows is a 403 `PLAN_LIMIT` whose message
names the cheapest plan that would allow it.
"""

from __future__ import annotations

from dataclasses import dataclass

from video_enhancer.billing.plans import PLANS, PlanLimits
from video_enhancer.catalogue.service import plans_for
from video_enhancer.config import Settings
from video_enhancer.errors import PlanLimitExceeded
from video_enhancer.models import Plan, User
from video_enhancer.videos.schemas import UploadRequest


@dataclass(frozen=True, slots=True)
class JobOptions:
    enhancer: str
    output_height: int


def resolve_options(user: User, limits: PlanLimits, request: UploadRequest, settings: Settings) -> JobOptions:
    enhancer = request.enhancer.value if request.enhancer else settings.resolved_enhancer
    allowed = plans_for(enhancer)
    if request.enhancer and Plan(user.plan) not in allowed:
        raise PlanLimitExceeded(
            f"The {user.plan} plan may not use {enhancer}; the {_cheapest(allowed)} plan may."
        )
    height = request.output_height or limits.max_output_height
    if height > limits.max_output_height:
        raise PlanLimitExceeded(_height_message(user.plan, limits.max_output_height, height))
    return JobOptions(enhancer, height)


def _cheapest(plans: tuple[Plan, ...]) -> Plan:
    order = list(PLANS)
    return min(plans, key=order.index)


def _height_message(plan: str, maximum: int, asked: int) -> str:
    allowing = [limits.plan for limits in PLANS.values() if limits.max_output_height >= asked]
    which = f"the {_cheapest(tuple(allowing))} plan allows it" if allowing else "no plan allows it"
    return f"The {plan} plan allows output up to {maximum} px high, not {asked}; {which}."
