"""The live (paper-trading) loop: feeds (:class:`ReplayFeed`; the Binance websocket feed in
:mod:`lobzero.live.binance`), the paper broker, the replay database, the orchestrator
(:class:`PaperLoop`), the scheduler, the model registry and the champion/challenger gate;
fault injection (:mod:`lobzero.live.faults`) and the soak (:mod:`lobzero.live.soak`); shadow
mode's comparison (:mod:`lobzero.live.ab`).

Not there yet: trading on the Binance feed (it records what it receives, in the format the
importer reads, but the paper broker executes on a recorded market, not on events as they
arrive), and a real-exchange broker (the :class:`~lobzero.live.broker.Broker` protocol is its
seam).
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
