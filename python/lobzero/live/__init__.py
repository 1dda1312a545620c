"""The live (paper-trading) loop: feeds, the paper broker, the replay database, the
orchestrator, the scheduler, the model registry and the champion/challenger gate.

Not written yet: the Binance websocket feed (the ``websockets`` package is not installed; the
:class:`~lobzero.live.feeds.Feed` protocol is its seam) and a real-exchange broker (the
:class:`~lobzero.live.broker.Broker` protocol).
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
