"""The live (paper-trading) loop: feeds (:class:`ReplayFeed`; the Binance websocket feed in
:mod:`lobzero.live.binance`), the paper broker (on recorded markets, or on markets that grow as
the feed delivers: :mod:`lobzero.live.live_market`), the replay database, the orchestrator
(:class:`PaperLoop`), the scheduler, the model registry and the champion/challenger gate;
fault injection (:mod:`lobzero.live.faults`) and the soak (:mod:`lobzero.live.soak`); shadow
mode's comparison (:mod:`lobzero.live.ab`).

Not there yet: a real-exchange broker (the :class:`~lobzero.live.broker.Broker` protocol is its
seam), and the daily retrain on a live feed (it runs on replay feeds).
"""

from lobzero.live.broker import Broker, Execution, PaperBroker
from lobzero.live.database import SCHEMA_VERSION, ReplayDatabase
from lobzero.live.feeds import Feed, HealthEvent, MarketEvents, ReplayFeed
from lobzero.live.orchestrator import IntendedAction, PaperConfig, PaperLoop, RiskFilter

__all__ = [
    "SCHEMA_VERSION",
    "Broker",
    "Execution",
    "Feed",
    "HealthEvent",
    "IntendedAction",
    "MarketEvents",
    "PaperBroker",
    "PaperConfig",
    "PaperLoop",
    "ReplayDatabase",
    "ReplayFeed",
    "RiskFilter",
]
