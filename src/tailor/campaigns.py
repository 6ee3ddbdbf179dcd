"""Campaign exposures with responses: the marketing source beyond email.

Shops record campaigns in several tables (who was targeted, when a campaign ran, who
redeemed); the contract takes them as three optional tables and this module joins them
into one exposure per (user, campaign) with its date and whether the user responded.
"""

from __future__ import annotations

import pandas as pd

COLUMNS = ["user_id", "campaign_id", "sent_ts", "responded", "response_ts"]


def campaign_exposures(
    campaigns: pd.DataFrame, info: pd.DataFrame, responses: pd.DataFrame
) -> pd.DataFrame:
    """One row per (user, campaign): exposure time and first response (if any).

    The exposure time is the row's own ``sent_ts`` or else the campaign's ``start_ts``; an
    exposure with neither cannot be placed in time and is dropped (features are
    point-in-time). A response counts from its own timestamp, so a snapshot before the
    redemption sees an exposure without a response.
    """
    if campaigns is None or campaigns.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in COLUMNS})
    out = campaigns.copy()
    sent = out["sent_ts"] if "sent_ts" in out else pd.Series(pd.NaT, index=out.index)
    if info is not None and not info.empty:
        start = info.drop_duplicates("campaign_id").set_index("campaign_id")["start_ts"]
        sent = sent.fillna(out["campaign_id"].map(start))
    out["sent_ts"] = pd.to_datetime(sent)
    # A repeated exposure counts from its first time: keeping whichever row came first in
    # the table would let a later row erase an earlier exposure from a past snapshot.
    out = out.dropna(subset=["sent_ts"]).sort_values("sent_ts", kind="stable")
    out = out.drop_duplicates(["user_id", "campaign_id"])
    first = pd.Series(dtype="datetime64[ns]")
    if responses is not None and not responses.empty:
        first = responses.groupby(["user_id", "campaign_id"])["ts"].min()
    key = pd.MultiIndex.from_frame(out[["user_id", "campaign_id"]])
    out["response_ts"] = first.reindex(key).to_numpy() if len(first) else pd.NaT
    given = out["responded"].astype(bool) if "responded" in out else False
    out["responded"] = out["response_ts"].notna() | given
    return out[COLUMNS].sort_values(["sent_ts", "user_id"], ignore_index=True)


def campaign_features(exposures: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per user as of ``as_of``: campaigns received and the share responded to by then."""
    seen = exposures[exposures["sent_ts"] <= as_of]
    if seen.empty:
        return pd.DataFrame(columns=["campaigns_received", "campaign_response_rate"])
    responded = seen["response_ts"].notna() & (seen["response_ts"] <= as_of)
    # a response known only as a flag (no date) counts once the exposure is seen
    responded |= seen["responded"].astype(bool) & seen["response_ts"].isna()
    g = responded.groupby(seen["user_id"])
    return pd.DataFrame({"campaigns_received": g.size(), "campaign_response_rate": g.mean()})
