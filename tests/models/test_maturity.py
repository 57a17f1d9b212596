"""The maturity quiz's rules on small made-up inputs, each against a reason of its own: the
quiz's thresholds, the intervals' distribution, reach, a sure and an unsure posterior, and
each way a question falls short."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.stats import beta as beta_distribution

from models.data import BUNDLED, load_customers, load_responses
from models.eventlog import read_event_log
from models.maturity import (
    STAGES,
    WIDTH,
    Answer,
    Maturity,
    assess,
    classes,
    closed,
    interval,
    inventory,
    level,
    needs,
    reach,
    sequence,
    valued,
    views,
    write_maturity,
)
from models.posterior import load_posterior, save_posterior


@pytest.fixture(scope="module")
def demo_tables(demo_world):
    customers = load_customers(BUNDLED / "customers.csv", demo_world)
    return {
        "customers": customers,
        "responses": load_responses(BUNDLED / "responses.csv", demo_world, customers),
        "events": read_event_log(BUNDLED / "events.csv"),
        "ratings": load_responses(BUNDLED / "ratings.csv", demo_world, customers),
    }


@pytest.mark.parametrize(
    ("yes", "name"),
    [(0, "Observer"), (1, "Follower"), (2, "Follower"), (3, "Leader"), (4, "Leader"),
     (5, "Visionary"), (6, "Visionary")],
)  # fmt: skip
def test_levels_are_the_quizs(yes, name):
    assert level(yes) == name


def test_intervals_are_the_beta_posteriors_of_a_uniform_prior():
    for k, n in ((0, 0), (3, 10), (218, 1000)):
        expected = beta_distribution.ppf([0.05, 0.95], 1 + k, 1 + n - k)
        assert interval(k, n) == pytest.approx(expected)
    # one of four classes: the Dirichlet(1, 1, 1, 1)'s marginal is Beta(1, 3)
    assert interval(0, 0, 4) == pytest.approx(beta_distribution.ppf([0.05, 0.95], 1, 3))
    # about 5 points either way: a share near 1/2 needs about 1.645^2 / 0.05^2 / 4 = 271
    assert interval(130, 260)[1] - interval(130, 260)[0] > WIDTH
    assert interval(145, 290)[1] - interval(145, 290)[0] < WIDTH


def _log(rows: list[tuple[str, str]]) -> pd.DataFrame:
    """An event log (customer, touchpoint) with one contact a minute, as the loader gives."""
    frame = pd.DataFrame(rows, columns=["customer_id", "touchpoint"])
    frame["timestamp"] = pd.Timestamp("2025-01-01") + pd.to_timedelta(frame.index, unit="min")
    frame["segment"] = ""
    return frame


def test_inventory_names_a_stage_without_touchpoint_and_half_missing_is_no(demo_world):
    log = _log([("a", "website")])
    no_renewal = demo_world.model_copy(
        update={"touchpoints": [t for t in demo_world.touchpoints if t.stage != "renewal"]}
    )
    found = inventory(no_renewal, log)
    assert found.answer == "partly" and "none at renewal" in found.evidence
    kept = {"awareness", "consideration", "purchase", "onboarding"}  # half of the 8 stages
    half = demo_world.model_copy(
        update={"touchpoints": [t for t in demo_world.touchpoints if t.stage in kept]}
    )
    assert inventory(half, log).answer == "no"
    assert inventory(demo_world, log).answer == "yes"
    assert inventory(demo_world, None).answer == "partly"  # nothing to check the list against


def _posterior(tmp_path, world, beta: np.ndarray, ok: bool = True) -> xr.DataTree:
    """A posterior file with these beta draws (draw, segment, touchpoint), loaded back."""
    posterior = xr.Dataset(
        {"beta": (("chain", "draw", "segment", "touchpoint"), beta[None])},
        coords={"segment": world.segment_ids, "touchpoint": world.touchpoint_ids},
    )
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "posterior.nc"
    save_posterior(
        xr.DataTree.from_dict({"posterior": posterior}),
        path,
        world=world,
        data={},
        diagnostics={"ok": ok},
    )
    return load_posterior(path, world)


def _effects(world, values: dict[str, float], sd: float, draws: int = 400) -> np.ndarray:
    """Draws of beta: the same effect in every segment, plus normal noise of ``sd``."""
    S, K = len(world.segment_ids), len(world.touchpoint_ids)
    mean = np.zeros((S, K))
    for touchpoint, value in values.items():
        mean[:, world.touchpoint_ids.index(touchpoint)] = value
    return mean + np.random.default_rng(1).normal(0, sd, size=(draws, S, K))


def test_a_sure_posterior_knows_the_top_three_and_an_unsure_one_does_not(tmp_path, demo_world):
    """Every segment meets the invoice, the call centre and field repair (recurring contacts):
    effects 1.5, 1.0 and 0.5 apart by 10 times the noise are ranked in every draw; equal
    effects give each touchpoint P(in the top 3) near 3/14, far below 0.8."""
    sure = {"invoice": 1.5, "call_centre": 1.0, "field_repair": 0.5}
    tree = _posterior(tmp_path / "a", demo_world, _effects(demo_world, sure, 0.05))
    top, found = valued(demo_world, tree, None)
    assert (top, found.answer) == (list(sure), "yes")
    assert "invoice 1.00, call_centre 1.00, field_repair 1.00" in found.evidence

    flat = _posterior(tmp_path / "b", demo_world, _effects(demo_world, {}, 1.0))
    assert valued(demo_world, flat, None)[1].answer == "no"

    one = _posterior(tmp_path / "c", demo_world, _effects(demo_world, {"invoice": 3.0}, 1.0))
    _, found = valued(demo_world, one, None)
    assert found.answer == "partly" and "1 of 3 above 0.8" in found.evidence

    failed = _posterior(tmp_path / "d", demo_world, _effects(demo_world, sure, 0.05), ok=False)
    _, found = valued(demo_world, failed, None)
    assert found.answer == "partly" and "failed its convergence diagnostics" in found.evidence


def test_a_touchpoint_few_customers_meet_is_not_what_customers_value(tmp_path, demo_world):
    """Only enterprises (2,000 of 232,000 customers) meet the account manager: an effect of
    3 weighs 3 x 2,000 / 232,000 = 0.026, less than the invoice's 0.5 for everyone."""
    effects = {"account_manager": 3.0, "invoice": 1.5, "call_centre": 1.0, "field_repair": 0.5}
    tree = _posterior(tmp_path, demo_world, _effects(demo_world, effects, 0.05))
    top, found = valued(demo_world, tree, None)
    assert "account_manager" not in top and found.answer == "yes"


def test_without_a_posterior_question_2_is_no_and_names_the_worlds_assumption(demo_world):
    """The demo's assumed effects weighted by reach: the call centre 0.9, field repair 0.8
    and the installer 0.6 for everyone; the invoice 0.6 x 200/232 + 0.5 x 30/232 + 0.3 x
    2/232 = 0.585 comes fourth; the account manager (1.0 x 2/232) far behind."""
    top, found = valued(demo_world, None, None)
    assert top == ["call_centre", "field_repair", "installer"]
    assert found.answer == "no" and "assumption" in found.evidence


def _responses(rows: int, columns: dict[str, object]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"customer_id": [f"c{i}" for i in range(rows)], "date": pd.Timestamp("2025-06-01")}
    )
    return frame.assign(**columns)


def test_views_known_for_some_of_the_three_are_partly(demo_world):
    top = ["call_centre", "field_repair", "installer"]
    rating = pd.array(np.arange(2000) % 5 + 1, dtype="Int8")
    every = _responses(2000, dict.fromkeys(top, rating))
    assert views(demo_world, every, top, assumed=True).answer == "yes"
    thin = every.assign(field_repair=every["field_repair"].where(every.index < 50))  # 20 poor
    found = views(demo_world, thin, top, assumed=True)
    assert found.answer == "partly" and "field_repair 50 customers" in found.evidence
    assert views(demo_world, every.drop(columns=top), top, assumed=True).answer == "no"
    assert views(demo_world, None, top, assumed=True).answer == "no"


def test_views_count_each_customers_latest_answer_of_the_last_12_months(demo_world):
    """Two answers of one customer count once; an answer older than 12 months before the
    table's last date not at all."""
    top = ["call_centre"]
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c"],
            "date": pd.to_datetime(["2025-01-01", "2025-06-01", "2025-06-01", "2024-05-01"]),
            "call_centre": pd.array([5, 1, 4, 1], dtype="Int8"),
        }
    )
    found = views(demo_world, frame, top, assumed=True)
    assert "call_centre 2 customers, 50% with a poor view" in found.evidence


def test_classes_need_enough_answers_and_a_self_class(demo_world):
    classes_ = pd.Categorical(
        np.array(["dissatisfied", "satisfied", "loyal", "advocate"])[np.arange(2000) % 4]
    )
    assert classes(_responses(2000, {"self_class": classes_})).answer == "yes"
    few = classes(_responses(100, {"self_class": classes_[:100]}))
    assert few.answer == "partly"  # 25 of 100 in a class: the interval is 0.14 wide
    assert classes(_responses(100, {})).answer == "no"
    assert classes(None).answer == "no"


def test_sequences_need_lost_prospects_a_clear_first_and_known_moves(demo_world):
    customers = pd.DataFrame({"customer_id": [f"b{i}" for i in range(500)], "segment": "household"})
    bought = [(f"b{i}", t) for i in range(500) for t in ("website", "order")]
    lost = [(f"l{i}", "online_ad") for i in range(1000)]
    found = sequence(demo_world, _log(bought + lost), customers)
    assert found.answer == "yes" and "most common sequence online_ad (then lost)" in found.evidence
    only_buyers = sequence(demo_world, _log(bought), customers)
    assert only_buyers.answer == "partly" and "no prospect who left" in only_buyers.evidence
    no_table = sequence(demo_world, _log(bought + lost), None)
    assert no_table.answer == "partly" and "no customers table" in no_table.evidence
    tied = _log(bought + [(f"l{i}", "online_ad") for i in range(500)])
    found = sequence(demo_world, tied, customers)
    assert found.answer == "partly" and "not clearly ahead" in found.evidence
    few = sequence(demo_world, _log(bought[:40] + lost[:40]), customers)  # 20 and 40 cases
    assert few.answer == "partly" and "not known within 5 points" in few.evidence
    assert sequence(demo_world, None, customers).answer == "no"


def test_needs_count_the_stages_measured(demo_world, demo_tables):
    """The demo's ratings rate the 5 stages after purchase, its log the 3 before."""
    customers, events, ratings = (demo_tables[k] for k in ("customers", "events", "ratings"))
    assert needs(demo_world, customers, events, ratings).answer == "yes"
    without_log = needs(demo_world, customers, None, ratings)
    assert without_log.answer == "partly"  # 5 of 8: more than half
    assert "at 5 of 8" in without_log.evidence
    assert needs(demo_world, customers, events, None).answer == "no"  # 3 of 8
    assert needs(demo_world, None, events, ratings).answer == "partly"  # no buyers known
    renewal_thin = ratings.assign(
        renewal_offer=ratings["renewal_offer"].where(ratings.index < 3000)
    )
    found = needs(demo_world, customers, events, renewal_thin)
    assert found.answer == "partly" and "not known at renewal" in found.evidence
    assert len(STAGES) == 8


def test_assess_on_the_demo_tables_is_the_commands(demo_world, demo_tables):
    found = assess(demo_world, **demo_tables)
    assert [a.number for a in found.answers] == [1, 2, 3, 4, 5, 6]
    assert found.level == "Visionary" and found.yes == 5


def test_cases_begun_in_the_logs_last_month_are_left_out(demo_world):
    """Their purchase may not be recorded yet: a prospect who met the web site on 20 March
    of a log ending in March is neither a buyer nor lost."""
    log = _log([("a", "website"), ("a", "order"), ("b", "online_ad")])
    log["timestamp"] = pd.to_datetime(["2025-02-01", "2025-02-03", "2025-03-20"])
    kept, left_open = closed(log)
    assert left_open == 1 and kept["customer_id"].tolist() == ["a", "a"]
    within = log.assign(timestamp=pd.to_datetime(["2025-03-01", "2025-03-02", "2025-03-20"]))
    assert closed(within)[1] == 0  # a log of one month is kept whole


def test_written_tables_quote_what_a_spreadsheet_would_run(tmp_path):
    """maturity.csv is opened by people: a cell starting with = is quoted; the JSON keeps it."""
    found = Maturity((Answer(1, "all its touchpoints", "partly", "=HYPERLINK(1)"),))
    assert write_maturity(found, tmp_path / "out") == ["maturity.csv", "maturity.json"]
    assert pd.read_csv(tmp_path / "out" / "maturity.csv")["evidence"][0] == "'=HYPERLINK(1)"
    written = json.loads((tmp_path / "out" / "maturity.json").read_text())
    assert written["answers"][0]["evidence"] == "=HYPERLINK(1)"
    assert (written["yes"], written["partly"], written["level"]) == (0, 1, "Observer")
    assert "as yes they would make Follower" in written["note"]


def test_reach_is_each_segments_share_of_the_base_where_it_meets_the_touchpoint(demo_world):
    """Households (200,000 of 232,000) meet the store in their journey, enterprises
    (2,000) the account manager in onboarding; nobody but enterprises meets the account
    manager. A world with no installed base counts its segments alike."""
    weights = reach(demo_world)
    s, k = demo_world.segment_ids.index, demo_world.touchpoint_ids.index
    assert weights[s("household"), k("store")] == pytest.approx(200 / 232)
    assert weights[s("enterprise"), k("account_manager")] == pytest.approx(2 / 232)
    assert weights[:, k("account_manager")].sum() == pytest.approx(2 / 232)
    empty = demo_world.model_copy(
        update={"segments": [x.model_copy(update={"customers": 0}) for x in demo_world.segments]}
    )
    assert reach(empty)[:, k("invoice")] == pytest.approx([1 / 3] * 3)


def test_unanswered_self_classes_are_no_and_a_one_sequence_log_has_no_runner_up(demo_world):
    empty = pd.Categorical([None] * 10, categories=["dissatisfied", "satisfied"])
    found = classes(_responses(10, {"self_class": empty}))
    assert found.answer == "no" and "no self_class answered" in found.evidence
    customers = pd.DataFrame({"customer_id": ["b0"], "segment": ["household"]})
    lone = sequence(demo_world, _log([("b0", "website"), ("b0", "order")]), customers)
    assert lone.answer == "partly" and "the next, none (0%)" in lone.evidence
