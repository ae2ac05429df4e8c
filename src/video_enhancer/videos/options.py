"""A job's enhancement options: the enhancer and output height asked for, checked against the plan.

Neither is required: the enhancer defaults to the one the settings select and the output height
to the plan's maximum. A deferred start (`POST /videos/{videoId}/jobs`) defaults to what the upload
resolved instead, its height kept within the plan's maximum of the day (the plan may have changed
since). Asking for more than the plan allows is a 403 `PLAN_LIMIT` whose message names the
cheapest plan that would allow it; so is starting with an enhancer the plan may no longer use.
"""

from __future__ import annotations

from dataclasses import dataclass

from video_enhancer.billing.plans import PLANS, PlanLimits
from video_enhancer.catalogue.service import plans_for
from video_enhancer.config import Settings
from video_enhancer.errors import PlanLimitExceeded
from video_enhancer.models import Plan, User
from video_enhancer.videos.schemas import EnhanceOptions


@dataclass(frozen=True, slots=True)
class JobOptions:
    enhancer: str
    output_height: int


def resolve_options(
    user: User,
    limits: PlanLimits,
    asked: EnhanceOptions,
    settings: Settings,
    *,
    chosen: JobOptions | None = None,
) -> JobOptions:
    """The job's options from what this request asks, else ``chosen`` (the upload's), else defaults."""
    enhancer = _enhancer(asked, chosen, settings)
    allowed = plans_for(enhancer)
    # The deployment's default is every plan's; anything else is checked, asked now or at upload.
    if (asked.enhancer or enhancer != settings.resolved_enhancer) and Plan(user.plan) not in allowed:
        raise PlanLimitExceeded(
            f"The {user.plan} plan may not use {enhancer}; the {_cheapest(allowed)} plan may."
        )
    maximum = limits.max_output_height
    height = asked.output_height or (min(chosen.output_height, maximum) if chosen else maximum)
    if height > maximum:
        raise PlanLimitExceeded(_height_message(user.plan, maximum, height))
    return JobOptions(enhancer, height)


def _enhancer(asked: EnhanceOptions, chosen: JobOptions | None, settings: Settings) -> str:
    if asked.enhancer:
        return asked.enhancer.value
    return chosen.enhancer if chosen else settings.resolved_enhancer


def _cheapest(plans: tuple[Plan, ...]) -> Plan:
    order = list(PLANS)
    return min(plans, key=order.index)


def _height_message(plan: str, maximum: int, asked: int) -> str:
    allowing = [limits.plan for limits in PLANS.values() if limits.max_output_height >= asked]
    which = f"the {_cheapest(tuple(allowing))} plan allows it" if allowing else "no plan allows it"
    return f"The {plan} plan allows output up to {maximum} px high, not {asked}; {which}."
