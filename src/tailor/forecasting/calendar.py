"""The shop's calendar: which days it trades, which it is closed, and its holidays.

Closed days are handled explicitly rather than treated as zero demand:
- regular closed weekdays (the default shop never trades on Saturdays) are learned from the
  history: a weekday with a trading share under ``min_trading_share`` is closed;
- holidays of ``country`` (none when it is null) on which the shop never traded in the
  history (e.g. Good Friday) are closed when they recur, and annual closures (a Christmas
  break) are a parameter, empty by default: both are facts of one shop, set in its
  environment;
- models are fitted on trading days only, forecasts for closed days are 0, and only days the
  shop actually traded are scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import holidays as holidays_lib
import pandas as pd


@dataclass(frozen=True)
class ShopCalendar:
    closed_weekdays: frozenset[int]
    closed_holidays: frozenset[str]
    annual_closures: tuple[tuple[str, str], ...] = ()
    country: str | None = None

    def holiday_names(self, dates: pd.DatetimeIndex) -> pd.Series:
        """The country holiday name of each date ('' when none, or when no country is set)."""
        if not self.country:
            return pd.Series("", index=dates, dtype=object)
        years = sorted(set(dates.year))
        cal = holidays_lib.country_holidays(self.country, years=years)
        return pd.Series([cal.get(d.date(), "") or "" for d in dates], index=dates)

    def in_annual_closure(self, dates: pd.DatetimeIndex) -> pd.Series:
        md = dates.strftime("%m-%d")
        out = pd.Series(False, index=dates)
        for start, end in self.annual_closures:
            if start <= end:
                out |= (md >= start) & (md <= end)
            else:  # wraps over the new year
                out |= (md >= start) | (md <= end)
        return out

    def is_open(self, dates: pd.DatetimeIndex) -> pd.Series:
        """Expected trading status of (future) dates from the learned rules."""
        dates = pd.DatetimeIndex(dates)
        names = self.holiday_names(dates)
        closed = (
            pd.Series(dates.dayofweek.isin(list(self.closed_weekdays)), index=dates)
            | names.isin(list(self.closed_holidays))
            | self.in_annual_closure(dates)
        )
        return ~closed

    def prophet_holidays(self, dates: pd.DatetimeIndex) -> pd.DataFrame:
        """Holidays in Prophet's format (ds, holiday) for the years spanned by ``dates``."""
        names = self.holiday_names(pd.DatetimeIndex(dates))
        names = names[names != ""]
        return pd.DataFrame({"ds": names.index, "holiday": names.to_numpy()})


def learn_calendar(
    daily: pd.DataFrame,
    country: str | None,
    min_trading_share: float,
    annual_closures: list[list[str]] | None = None,
) -> ShopCalendar:
    """Learn the closed weekdays and closed holidays from a daily table with ``trading``."""
    dates = pd.DatetimeIndex(daily["date"])
    trading = pd.Series(daily["trading"].to_numpy(dtype=bool), index=dates)
    share = trading.groupby(dates.dayofweek).mean()
    closed_weekdays = frozenset(int(d) for d, s in share.items() if s < min_trading_share)
    base = ShopCalendar(closed_weekdays, frozenset(), (), country)
    names = base.holiday_names(dates)
    on_holiday = names != ""
    traded = trading[on_holiday].groupby(names[on_holiday]).any()
    closed_holidays = frozenset(str(n) for n, t in traded.items() if not t)
    closures = tuple((str(a), str(b)) for a, b in (annual_closures or []))
    return ShopCalendar(closed_weekdays, closed_holidays, closures, country)
