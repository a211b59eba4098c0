"""Which subscription action applies in which state: one rule for the workflow's main loop (the reason it records
as last_rejection) and its Update validators (the reason a caller is refused with before anything is written)."""

from __future__ import annotations

from models.subscription_io import (
    CancelSubscription,
    ChangePlan,
    PauseSubscription,
    ResumeSubscription,
    SubscriptionAction,
    SubscriptionRunState,
    SubscriptionStatus,
    TriggerBilling,
)

VERBS: dict[type[SubscriptionAction], str] = {
    PauseSubscription: "pause",
    ResumeSubscription: "resume",
    CancelSubscription: "cancel",
    ChangePlan: "change the plan of",
    TriggerBilling: "bill",
}


def rejection_reason(state: SubscriptionRunState, action: SubscriptionAction) -> str | None:
    """None if the action may apply now; otherwise why not. A trigger for a given period can still be refused when
    applied: whether that period exists and has started is read from the database (find_subscription_period)."""
    status = state.status
    if (
        status.is_final
        or (isinstance(action, PauseSubscription) and status is not SubscriptionStatus.active)
        or (isinstance(action, ResumeSubscription) and status is not SubscriptionStatus.paused)
    ):
        article = "an" if status.value[0] in "aeiou" else "a"
        return f"cannot {VERBS.get(type(action), 'apply this to')} {article} {status.value} subscription"
    if isinstance(action, ChangePlan) and state.next_period is None:
        return "no further period to change the plan of"
    no_period = state.current_period is None and state.next_period is None
    if isinstance(action, TriggerBilling) and action.period_start is None and no_period:
        return "no period to bill"
    return None
