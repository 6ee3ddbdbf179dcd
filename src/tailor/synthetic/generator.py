"""A seeded storefront generator with planted truth.

Users belong to planted segments that differ in purchase cycle, basket size, quantity,
browsing, channel and email engagement; each user prefers two item categories; purchases
follow a per-user cycle. Every source of the data contract is produced (users, items,
web/app clickstream with views, carts and searches, email, transactions) plus the truth
table, and a little realistic mess (duplicates, cancellations, anonymous orders) so the
cleaning is exercised. Optional drift changes prices, baskets and channel mix late in the
period. Everything is vectorised so tens of millions of events take seconds to minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

NOUNS = (
    "mug", "candle", "bag", "lantern", "cushion", "frame", "clock", "sign", "box", "card",
    "bowl", "vase", "tin", "apron", "ornament", "garland", "coaster", "doorstop", "notebook",
    "umbrella",
)  # fmt: skip
ADJECTIVES = (
    "vintage", "retro", "rustic", "floral", "spotty", "striped", "heart", "star", "party",
    "garden", "kitchen", "christmas", "regency", "french", "scandi", "paisley",
)  # fmt: skip
COLOURS = ("red", "blue", "pink", "green", "white", "ivory", "black", "gold", "silver", "pastel")


@dataclass
class SegmentSpec:
    name: str
    share: float
    cycle_days: float
    basket_size: float
    quantity: float
    browse_sessions_per_month: float
    app_share: float
    email_open_rate: float


DEFAULT_SEGMENTS = [
    SegmentSpec("loyal", 0.2, 14, 6.0, 6.0, 6.0, 0.7, 0.6),
    SegmentSpec("regular", 0.3, 35, 3.0, 3.0, 3.0, 0.4, 0.35),
    SegmentSpec("occasional", 0.3, 90, 2.0, 1.5, 1.0, 0.25, 0.1),
    SegmentSpec("browser", 0.2, 150, 1.0, 1.0, 8.0, 0.5, 0.2),
]


@dataclass
class GeneratorConfig:
    seed: int = 42
    n_users: int = 1000
    n_categories: int = 10
    items_per_category: int = 40
    start: str = "2023-01-01"
    days: int = 365
    signup_window_fraction: float = 0.2
    cycle_regularity: float = 6.0  # gamma shape of purchase gaps: higher = more regular
    preference_strength: float = 0.85
    zipf_exponent: float = 1.1
    views_per_purchase: float = 3.0
    search_share: float = 0.3
    abandon_share: float = 0.25
    email_every_days: int = 14
    opt_out_rate: float = 0.02
    duplicate_rate: float = 0.005
    cancel_rate: float = 0.01
    anonymous_rate: float = 0.02
    countries: dict[str, float] = field(
        default_factory=lambda: {
            "United Kingdom": 0.8,
            "Germany": 0.07,
            "France": 0.06,
            "USA": 0.07,
        }
    )
    segments: list[SegmentSpec] = field(default_factory=lambda: list(DEFAULT_SEGMENTS))
    drift: dict[str, Any] = field(
        default_factory=lambda: {
            "enabled": False,
            "start_fraction": 0.75,
            "price_multiplier": 1.4,
            "basket_multiplier": 1.8,
            "app_share_shift": 0.3,
        }
    )

    @classmethod
    def from_dict(cls, cfg: dict[str, Any]) -> GeneratorConfig:
        cfg = dict(cfg)
        if "segments" in cfg:
            cfg["segments"] = [SegmentSpec(**s) for s in cfg["segments"]]
        if "drift" in cfg:
            cfg["drift"] = {**cls().drift, **cfg["drift"]}
        return cls(**cfg)


def _grouped_arange(counts: np.ndarray) -> np.ndarray:
    """0..n-1 for each group of the given sizes, concatenated."""
    total = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total) - starts


@dataclass
class ItemWorld:
    """The item side of a world, shared by every chunk of users (see ``generate_users``)."""

    items: pd.DataFrame
    cat_names: list[str]
    base_price: np.ndarray
    rank_p: np.ndarray
    cat_pop: np.ndarray


@dataclass
class UserWorld:
    """The tables of one group of users, and how many orders and sessions it used."""

    tables: dict[str, pd.DataFrame]
    n_orders: int
    n_sessions: int


def generate(config: GeneratorConfig | dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Return the tables users, items, events, email, transactions and truth."""
    cfg = GeneratorConfig.from_dict(config) if isinstance(config, dict) else config
    rng = np.random.default_rng(cfg.seed)
    # one generator for items and users: the stream (and so every table) of a seed is fixed
    item_world = generate_items(cfg, rng)
    tables = generate_users(cfg, rng, item_world, sample_seed=cfg.seed).tables
    return {"users": tables["users"], "items": item_world.items, **tables}


def generate_items(cfg: GeneratorConfig, rng: np.random.Generator) -> ItemWorld:
    """Items, their prices, within-category popularity and category popularity."""
    n_c, per_c = cfg.n_categories, cfg.items_per_category
    n_i = n_c * per_c

    # --- items: category c owns items c*per_c … (c+1)*per_c-1, popularity Zipf within.
    cat_names = [NOUNS[c % len(NOUNS)] + ("" if c < len(NOUNS) else str(c)) for c in range(n_c)]
    item_cat = np.repeat(np.arange(n_c), per_c)
    adj = rng.integers(0, len(ADJECTIVES), n_i)
    col = rng.integers(0, len(COLOURS), n_i)
    base_price = np.round(np.exp(rng.normal(1.0, 0.6, n_i)), 2) + 0.25
    items = pd.DataFrame(
        {
            "item_id": [f"I{i:05d}" for i in range(n_i)],
            "description": [
                f"{ADJECTIVES[a]} {COLOURS[c]} {cat_names[k]}".upper()
                for a, c, k in zip(adj, col, item_cat, strict=True)
            ],
            "category": [cat_names[k] for k in item_cat],
            "price": base_price,
        }
    )
    rank_p = 1.0 / np.arange(1, per_c + 1) ** cfg.zipf_exponent
    rank_p /= rank_p.sum()
    cat_pop = rng.dirichlet(np.full(n_c, 2.0))
    return ItemWorld(items, cat_names, base_price, rank_p, cat_pop)


def generate_users(
    cfg: GeneratorConfig,
    rng: np.random.Generator,
    item_world: ItemWorld,
    *,
    sample_seed: int,
    user_offset: int = 0,
    order_offset: int = 0,
    session_offset: int = 0,
) -> UserWorld:
    """``cfg.n_users`` users and all their per-user tables (every table but items).

    Offsets number the users, orders and sessions after those of earlier groups, so groups
    generated with their own generators stay one world with unique ids.
    """
    items, cat_names = item_world.items, item_world.cat_names
    base_price, rank_p, cat_pop = item_world.base_price, item_world.rank_p, item_world.cat_pop
    start = pd.Timestamp(cfg.start)
    n_u, n_c, per_c = cfg.n_users, cfg.n_categories, cfg.items_per_category
    seg = cfg.segments
    shares = np.array([s.share for s in seg]) / sum(s.share for s in seg)

    # --- users and planted truth.
    useg = rng.choice(len(seg), n_u, p=shares)
    prefs = np.stack([rng.choice(n_c, 2, replace=False, p=cat_pop) for _ in range(n_u)])
    cycle = np.array([s.cycle_days for s in seg])[useg] * np.exp(rng.normal(0, 0.1, n_u))
    signup = rng.uniform(0, cfg.days * cfg.signup_window_fraction, n_u)
    countries = list(cfg.countries)
    c_p = np.array(list(cfg.countries.values()), dtype=float)
    ucountry = rng.choice(len(countries), n_u, p=c_p / c_p.sum())
    consent = rng.random(n_u) >= cfg.opt_out_rate
    user_ids = np.array([f"U{u:06d}" for u in range(user_offset, user_offset + n_u)])
    users = pd.DataFrame(
        {
            "user_id": user_ids,
            "signup_ts": start + pd.to_timedelta(signup, unit="D"),
            "age": np.clip(rng.normal(40 + 5 * (useg == 0), 12, n_u), 18, 90).round(),
            "gender": rng.choice(["female", "male", "other"], n_u, p=[0.55, 0.42, 0.03]),
            "location": np.array(countries)[ucountry],
            "consent": consent,
        }
    )
    truth = pd.DataFrame(
        {
            "user_id": user_ids,
            "segment": np.array([s.name for s in seg])[useg],
            "preferred_categories": [f"{cat_names[a]}|{cat_names[b]}" for a, b in prefs],
            "cycle_days": cycle.round(2),
        }
    )

    drift_on = bool(cfg.drift.get("enabled"))
    drift_day = cfg.days * float(cfg.drift["start_fraction"])

    # --- purchase times: gamma gaps around each user's cycle.
    n_max = np.ceil(cfg.days / cycle).astype(int) + 2
    rep = np.repeat(np.arange(n_u), n_max)
    k = cfg.cycle_regularity
    gaps = rng.gamma(k, cycle[rep] / k)
    first = signup + rng.uniform(0, cycle)
    csum = np.cumsum(gaps)
    group_start = np.repeat(csum[np.cumsum(n_max) - n_max], n_max)
    t = first[rep] + (csum - group_start)
    keep = t < cfg.days
    o_user, o_t = rep[keep], t[keep]
    o_t = np.floor(o_t) + rng.uniform(8, 20, len(o_t)) / 24.0  # trading hours
    n_orders = len(o_user)
    drifted = drift_on & (o_t >= drift_day)
    basket_mean = np.array([s.basket_size for s in seg])[useg[o_user]]
    basket_mean = basket_mean * np.where(drifted, cfg.drift["basket_multiplier"], 1.0)
    n_lines = 1 + rng.poisson(basket_mean - 1)
    order_ids = np.arange(100000 + order_offset, 100000 + order_offset + n_orders)

    # --- lines: preferred categories with probability preference_strength.
    l_order = np.repeat(np.arange(n_orders), n_lines)
    l_user = o_user[l_order]
    pick_pref = rng.random(len(l_order)) < cfg.preference_strength
    pref_cat = prefs[l_user, rng.integers(0, 2, len(l_order))]
    any_cat = rng.choice(n_c, len(l_order), p=cat_pop)
    l_cat = np.where(pick_pref, pref_cat, any_cat)
    l_item = l_cat * per_c + rng.choice(per_c, len(l_order), p=rank_p)
    q_mean = np.array([s.quantity for s in seg])[useg[l_user]]
    l_qty = 1 + rng.poisson(np.maximum(q_mean - 1, 0))
    price_mult = np.where(drifted[l_order], cfg.drift["price_multiplier"], 1.0)
    l_price = np.round(base_price[l_item] * price_mult, 2)
    l_ts = start + pd.to_timedelta(o_t[l_order], unit="D")
    tx = pd.DataFrame(
        {
            "order_id": order_ids[l_order].astype(str),
            "user_id": user_ids[l_user].astype(object),
            "item_id": items["item_id"].to_numpy()[l_item],
            "description": items["description"].to_numpy()[l_item],
            "quantity": l_qty.astype(float),
            "unit_price": l_price,
            "ts": l_ts,
            "country": np.array(countries)[ucountry[l_user]],
        }
    )
    # Mess: anonymous orders, cancellations (same lines, negative, a few hours later), dups.
    anon_orders = rng.random(n_orders) < cfg.anonymous_rate
    tx.loc[anon_orders[l_order], "user_id"] = None
    cancel_orders = (rng.random(n_orders) < cfg.cancel_rate) & ~anon_orders
    canc = tx[cancel_orders[l_order]].copy()
    canc["order_id"] = "C" + canc["order_id"]
    canc["quantity"] = -canc["quantity"]
    canc["ts"] = canc["ts"] + pd.Timedelta(hours=3)
    dups = tx.sample(frac=cfg.duplicate_rate, random_state=sample_seed)
    transactions = pd.concat([tx, canc, dups], ignore_index=True).sort_values("ts", kind="stable")

    # --- events: a session per order (views, carts, purchases) plus browse-only sessions.
    app_p = np.array([s.app_share for s in seg])
    n_views = rng.poisson(cfg.views_per_purchase, n_orders)
    v_order = np.repeat(np.arange(n_orders), n_views)
    v_cat = np.where(
        rng.random(len(v_order)) < cfg.preference_strength,
        prefs[o_user[v_order], rng.integers(0, 2, len(v_order))],
        rng.choice(n_c, len(v_order), p=cat_pop),
    )
    v_item = v_cat * per_c + rng.choice(per_c, len(v_order), p=rank_p)
    order_sessions = pd.DataFrame(
        {
            "user": np.concatenate([o_user[v_order], l_user, l_user]),
            "session": np.concatenate([v_order, l_order, l_order]),
            "t": np.concatenate(
                [
                    o_t[v_order] - rng.uniform(5, 30, len(v_order)) / 1440,
                    o_t[l_order] - 2 / 1440,
                    o_t[l_order],
                ]
            ),
            "event_type": np.repeat(
                ["view", "add_to_cart", "purchase"], [len(v_order), len(l_order), len(l_order)]
            ),
            "item": np.concatenate([v_item, l_item, l_item]),
        }
    )
    months = (cfg.days - signup) / 30.0
    browse_rate = np.array([s.browse_sessions_per_month for s in seg])[useg] * months
    n_browse = rng.poisson(browse_rate)
    b_user = np.repeat(np.arange(n_u), n_browse)
    b_t = rng.uniform(signup[b_user], cfg.days)
    b_n = 1 + rng.poisson(3, len(b_user))
    bv_sess = np.repeat(np.arange(len(b_user)), b_n)
    bv_user = b_user[bv_sess]
    bv_cat = np.where(
        rng.random(len(bv_sess)) < cfg.preference_strength,
        prefs[bv_user, rng.integers(0, 2, len(bv_sess))],
        rng.choice(n_c, len(bv_sess), p=cat_pop),
    )
    bv_item = bv_cat * per_c + rng.choice(per_c, len(bv_sess), p=rank_p)
    bv_t = b_t[bv_sess] + _grouped_arange(b_n) * 2 / 1440
    abandon = rng.random(len(b_user)) < cfg.abandon_share
    last_view = np.cumsum(b_n) - 1
    search = rng.random(len(b_user)) < cfg.search_share
    sess_offset = n_orders
    browse_sessions = pd.DataFrame(
        {
            "user": np.concatenate([bv_user, b_user[abandon], b_user[search]]),
            "session": sess_offset
            + np.concatenate([bv_sess, np.flatnonzero(abandon), np.flatnonzero(search)]),
            "t": np.concatenate(
                [bv_t, bv_t[last_view[abandon]] + 1 / 1440, b_t[search] - 1 / 1440]
            ),
            "event_type": np.repeat(
                ["view", "add_to_cart", "search"], [len(bv_sess), abandon.sum(), search.sum()]
            ),
            "item": np.concatenate(
                [bv_item, bv_item[last_view[abandon]], np.full(search.sum(), -1)]
            ),
        }
    )
    ev = pd.concat([order_sessions, browse_sessions], ignore_index=True)
    n_sess = sess_offset + len(b_user)
    sess_user = np.empty(n_sess, dtype=int)
    sess_user[ev["session"].to_numpy()] = ev["user"].to_numpy()
    sess_t = np.zeros(n_sess)
    sess_t[ev["session"].to_numpy()] = ev["t"].to_numpy()
    shift = np.where(drift_on & (sess_t >= drift_day), cfg.drift["app_share_shift"], 0.0)
    sess_app = rng.random(n_sess) < np.clip(app_p[useg[sess_user]] + shift, 0, 1)
    web_device = rng.choice(["desktop", "mobile", "tablet"], n_sess, p=[0.6, 0.3, 0.1])
    sess_device = np.where(sess_app, "mobile", web_device)
    e_sess = ev["session"].to_numpy()
    e_item = ev["item"].to_numpy()
    is_search = ev["event_type"].to_numpy() == "search"
    search_cat = prefs[ev["user"].to_numpy(), 0]
    events = pd.DataFrame(
        {
            "user_id": user_ids[ev["user"].to_numpy()],
            "session_id": np.char.add("S", (e_sess + session_offset).astype(str)),
            "ts": start + pd.to_timedelta(ev["t"].to_numpy(), unit="D"),
            "event_type": ev["event_type"].to_numpy(),
            "item_id": np.where(
                is_search, None, items["item_id"].to_numpy()[np.maximum(e_item, 0)]
            ),
            "query": np.where(is_search, np.array(cat_names)[search_cat], None),
            "channel": np.where(sess_app[e_sess], "app", "web"),
            "device": sess_device[e_sess],
        }
    )
    events = events[events["ts"] >= start].sort_values("ts", kind="stable", ignore_index=True)

    # --- email: a campaign every email_every_days to consenting users after signup.
    camp_day = np.arange(0, cfg.days, cfg.email_every_days)
    cu, cc = np.nonzero((signup[:, None] <= camp_day[None, :]) & consent[:, None])
    open_p = np.array([s.email_open_rate for s in seg])[useg[cu]]
    opened = rng.random(len(cu)) < open_p
    email = pd.DataFrame(
        {
            "user_id": user_ids[cu],
            "campaign_id": [f"CMP{c:03d}" for c in cc],
            "sent_ts": start + pd.to_timedelta(camp_day[cc] + 9 / 24, unit="D"),
            "opened": opened,
            "clicked": opened & (rng.random(len(cu)) < 0.3),
        }
    )
    tables = {
        "users": users,
        "events": events,
        "email": email,
        "transactions": transactions.reset_index(drop=True),
        "truth": truth,
    }
    return UserWorld(tables, n_orders, n_sess)
