//! The trader's ledger: cash, position, average entry, realized and unrealized PnL, fees, and a
//! record of every fill and every round-trip trade.
//!
//! Money is in the contract's settlement currency (f64): quote currency for a linear
//! instrument, the base coin for an inverse one ([`Contract`]); prices and sizes stay integer
//! ticks and lots. With average cost accounting (for an inverse contract the average of
//! `1/price`, the harmonic mean entry the exchanges report) the identities hold for every state
//! (up to float rounding): `realized + unrealized = equity − initial_cash`, where `realized` is
//! net of fees, and
//! - linear: `equity = cash + position × lot value at the mark` (spot-like cash: a buy pays its
//!   notional, a sell receives it);
//! - inverse: `equity = cash + unrealized` (margin-style cash: the coin balance, which only
//!   realized PnL and fees change; no coin changes hands when a contract opens).
//!
//! Realized PnL of closing `k` lots bought at `e` and sold at `x` is `k × (x − e) × lot value
//! per tick` when linear and `k × lot × contract_size × (1/e − 1/x)` coin when inverse.

use crate::event::Contract;
use serde::Serialize;

/// One execution against the book.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Fill {
    pub ts_ns: i64,
    /// +1 bought, -1 sold.
    pub side: i8,
    pub price_ticks: i64,
    pub qty_lots: i64,
    /// Fee paid, settlement currency (>= 0).
    pub fee: f64,
}

/// A position opened from flat and closed back to flat (or flipped through zero).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RoundTrip {
    pub entry_ts_ns: i64,
    pub exit_ts_ns: i64,
    /// +1 long, -1 short.
    pub side: i8,
    /// Largest absolute position held during the trip, lots.
    pub max_qty_lots: i64,
    /// Realized PnL of the trip net of its fees, settlement currency.
    pub pnl: f64,
    pub fees: f64,
}

/// The ledger, in the settlement currency of its [`Contract`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    pub contract: Contract,
    pub initial_cash: f64,
    pub cash: f64,
    pub position_lots: i64,
    /// Average entry price of the open position, ticks (0 when flat); for an inverse contract
    /// the harmonic mean of the entry prices.
    pub avg_entry_ticks: f64,
    /// What the average is taken over: the price (linear) or 1 / price (inverse), per tick.
    avg_entry_key: f64,
    /// Realized PnL net of fees, settlement currency.
    pub realized_pnl: f64,
    pub fees_paid: f64,
    /// Traded notional (lots × lot value at the fill price), settlement currency, summed over
    /// fills (for turnover).
    pub traded_notional: f64,
    pub fills: Vec<Fill>,
    pub round_trips: Vec<RoundTrip>,
    trip_entry_ts_ns: i64,
    trip_pnl: f64,
    trip_fees: f64,
    trip_max_qty: i64,
}

impl Account {
    /// A linear ledger: one lot moving one tick is worth `quote_per_tick_lot` quote currency.
    pub fn new(initial_cash: f64, quote_per_tick_lot: f64) -> Self {
        Self::with_contract(initial_cash, Contract::Linear { quote_per_tick_lot })
    }

    /// A ledger for any contract; `initial_cash` is in its settlement currency.
    pub fn with_contract(initial_cash: f64, contract: Contract) -> Self {
        Self {
            contract,
            initial_cash,
            cash: initial_cash,
            position_lots: 0,
            avg_entry_ticks: 0.0,
            avg_entry_key: 0.0,
            realized_pnl: 0.0,
            fees_paid: 0.0,
            traded_notional: 0.0,
            fills: Vec::new(),
            round_trips: Vec::new(),
            trip_entry_ts_ns: 0,
            trip_pnl: 0.0,
            trip_fees: 0.0,
            trip_max_qty: 0,
        }
    }

    /// Back to flat with the initial cash; keeps allocated buffers.
    pub fn reset(&mut self) {
        self.cash = self.initial_cash;
        self.position_lots = 0;
        self.avg_entry_ticks = 0.0;
        self.avg_entry_key = 0.0;
        self.realized_pnl = 0.0;
        self.fees_paid = 0.0;
        self.traded_notional = 0.0;
        self.fills.clear();
        self.round_trips.clear();
        self.trip_pnl = 0.0;
        self.trip_fees = 0.0;
        self.trip_max_qty = 0;
    }

    /// Settlement-currency value of one lot at `price_ticks` (see [`Contract::lot_value`]).
    pub fn lot_value(&self, price_ticks: f64) -> f64 {
        self.contract.lot_value(price_ticks)
    }

    /// Signed value of the position at `mark_ticks`, settlement currency (long > 0).
    pub fn position_value(&self, mark_ticks: f64) -> f64 {
        self.contract
            .notional(mark_ticks, self.position_lots as f64)
    }

    /// Equity at `mark_ticks` (the mid), settlement currency.
    pub fn equity(&self, mark_ticks: f64) -> f64 {
        match self.contract {
            Contract::Linear { quote_per_tick_lot } => {
                self.cash + self.position_lots as f64 * mark_ticks * quote_per_tick_lot
            }
            Contract::Inverse { .. } => self.cash + self.unrealized_pnl(mark_ticks),
        }
    }

    /// Unrealized PnL at `mark_ticks`, settlement currency.
    pub fn unrealized_pnl(&self, mark_ticks: f64) -> f64 {
        match self.contract {
            Contract::Linear { quote_per_tick_lot } => {
                self.position_lots as f64 * (mark_ticks - self.avg_entry_ticks) * quote_per_tick_lot
            }
            Contract::Inverse { .. } if self.position_lots == 0 => 0.0,
            Contract::Inverse { .. } => self.position_lots as f64 * self.gain_per_lot(mark_ticks),
        }
    }

    /// The average is taken over this function of the price (ticks).
    fn key(&self, price_ticks: f64) -> f64 {
        match self.contract {
            Contract::Linear { .. } => price_ticks,
            Contract::Inverse { .. } => 1.0 / price_ticks,
        }
    }

    /// PnL of one long lot from the average entry to `price_ticks`, settlement currency.
    fn gain_per_lot(&self, price_ticks: f64) -> f64 {
        match self.contract {
            Contract::Linear { quote_per_tick_lot } => {
                (price_ticks - self.avg_entry_ticks) * quote_per_tick_lot
            }
            Contract::Inverse {
                quote_per_lot,
                tick,
            } => (self.avg_entry_key - 1.0 / price_ticks) * quote_per_lot / tick,
        }
    }

    /// Books one fill. `side` +1 buys, -1 sells `qty_lots` (> 0) at `price_ticks`.
    pub fn apply_fill(&mut self, fill: Fill) {
        let qty = fill.qty_lots;
        if qty <= 0 {
            return;
        }
        let signed = i64::from(fill.side) * qty;
        let price = fill.price_ticks as f64;
        let linear = !self.contract.is_inverse();
        // the linear arithmetic is kept in its original order, so that results stay bit-identical
        let notional = match self.contract {
            Contract::Linear { quote_per_tick_lot } => {
                self.cash -= signed as f64 * price * quote_per_tick_lot + fill.fee;
                qty as f64 * price * quote_per_tick_lot
            }
            Contract::Inverse { .. } => {
                self.cash -= fill.fee;
                qty as f64 * self.contract.lot_value(price)
            }
        };
        self.fees_paid += fill.fee;
        self.realized_pnl -= fill.fee;
        self.traded_notional += notional;
        self.fills.push(fill);

        let pos = self.position_lots;
        if pos == 0 {
            self.trip_entry_ts_ns = fill.ts_ns;
            self.trip_pnl = 0.0;
            self.trip_fees = 0.0;
            self.trip_max_qty = 0;
        }
        if pos == 0 || pos.signum() == signed.signum() {
            let held = pos.abs() as f64;
            self.avg_entry_key =
                (self.avg_entry_key * held + self.key(price) * qty as f64) / (held + qty as f64);
            self.avg_entry_ticks = if linear {
                self.avg_entry_key
            } else {
                1.0 / self.avg_entry_key
            };
            self.position_lots = pos + signed;
            self.trip_pnl -= fill.fee;
            self.trip_fees += fill.fee;
        } else {
            let closing = qty.min(pos.abs());
            let gain = match self.contract {
                Contract::Linear { quote_per_tick_lot } => {
                    closing as f64
                        * (price - self.avg_entry_ticks)
                        * pos.signum() as f64
                        * quote_per_tick_lot
                }
                Contract::Inverse { .. } => {
                    closing as f64 * self.gain_per_lot(price) * pos.signum() as f64
                }
            };
            self.realized_pnl += gain;
            if !linear {
                self.cash += gain;
            }
            let closing_fee = fill.fee * closing as f64 / qty as f64;
            self.trip_pnl += gain - closing_fee;
            self.trip_fees += closing_fee;
            self.position_lots = pos + signed;
            if self.position_lots == 0 || self.position_lots.signum() != pos.signum() {
                self.round_trips.push(RoundTrip {
                    entry_ts_ns: self.trip_entry_ts_ns,
                    exit_ts_ns: fill.ts_ns,
                    side: pos.signum() as i8,
                    max_qty_lots: self.trip_max_qty.max(pos.abs()),
                    pnl: self.trip_pnl,
                    fees: self.trip_fees,
                });
                if self.position_lots == 0 {
                    self.avg_entry_ticks = 0.0;
                    self.avg_entry_key = 0.0;
                } else {
                    // flipped: the remainder opens a new trip at this price
                    self.avg_entry_ticks = price;
                    self.avg_entry_key = self.key(price);
                    self.trip_entry_ts_ns = fill.ts_ns;
                    self.trip_pnl = -(fill.fee - closing_fee);
                    self.trip_fees = fill.fee - closing_fee;
                    self.trip_max_qty = 0;
                }
            }
        }
        self.trip_max_qty = self.trip_max_qty.max(self.position_lots.abs());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(ts: i64, side: i8, price: i64, qty: i64, fee: f64) -> Fill {
        Fill {
            ts_ns: ts,
            side,
            price_ticks: price,
            qty_lots: qty,
            fee,
        }
    }

    fn check_identities(a: &Account, mark: f64) {
        let equity = a.equity(mark);
        let lhs = a.realized_pnl + a.unrealized_pnl(mark);
        assert!(
            (lhs - (equity - a.initial_cash)).abs() < 1e-9,
            "{lhs} vs {}",
            equity - a.initial_cash
        );
    }

    #[test]
    fn long_round_trip_by_hand() {
        // tick 0.1, lot 0.001: one tick-lot is worth 0.0001 quote
        let mut a = Account::new(1000.0, 0.0001);
        a.apply_fill(fill(1, 1, 600_000, 1000, 0.5)); // buy 1.0 at 60000.0, fee 0.5
        assert_eq!(a.position_lots, 1000);
        assert!((a.cash - (1000.0 - 60_000.0 - 0.5)).abs() < 1e-9);
        check_identities(&a, 600_100.0);
        a.apply_fill(fill(2, -1, 600_100, 400, 0.2)); // sell 0.4 at 60010.0
        assert!((a.realized_pnl - (0.4 * 10.0 - 0.7)).abs() < 1e-9);
        check_identities(&a, 599_000.0);
        a.apply_fill(fill(3, -1, 600_200, 600, 0.3)); // sell 0.6 at 60020.0: flat
        assert_eq!(a.position_lots, 0);
        assert_eq!(a.round_trips.len(), 1);
        let trip = a.round_trips[0];
        assert_eq!(
            (
                trip.entry_ts_ns,
                trip.exit_ts_ns,
                trip.side,
                trip.max_qty_lots
            ),
            (1, 3, 1, 1000)
        );
        assert!((trip.pnl - (4.0 + 12.0 - 1.0)).abs() < 1e-9);
        assert!((a.equity(0.0) - (1000.0 + 15.0)).abs() < 1e-9);
        assert!((a.fees_paid - 1.0).abs() < 1e-12);
    }

    #[test]
    fn flip_splits_the_trip() {
        let mut a = Account::new(100.0, 1.0);
        a.apply_fill(fill(1, -1, 100, 2, 0.0)); // short 2 at 100
        a.apply_fill(fill(2, 1, 90, 5, 1.0)); // buy 5 at 90: close 2 (+20), long 3
        assert_eq!(a.position_lots, 3);
        assert_eq!(a.round_trips.len(), 1);
        assert!((a.round_trips[0].pnl - (20.0 - 0.4)).abs() < 1e-12);
        assert_eq!(a.avg_entry_ticks, 90.0);
        check_identities(&a, 95.0);
        a.apply_fill(fill(3, -1, 95, 3, 0.0));
        assert_eq!(a.round_trips.len(), 2);
        assert!((a.round_trips[1].pnl - (15.0 - 0.6)).abs() < 1e-12);
        check_identities(&a, 1.0);
    }

    /// BTCUSD_PERP: tick 0.1, lot 1 contract of 100 USD.
    const BTCUSD_PERP: Contract = Contract::Inverse {
        quote_per_lot: 100.0,
        tick: 0.1,
    };

    #[test]
    fn inverse_long_by_hand() {
        // long 10 contracts at 60,000, out at 61,000: 10 · 100 · (1/60000 − 1/61000) BTC
        let golden: f64 = 10.0 * 100.0 * (1.0 / 60_000.0 - 1.0 / 61_000.0);
        assert!((golden - 2.732_240_437_158_47e-4).abs() < 1e-15);
        let mut a = Account::with_contract(1.0, BTCUSD_PERP);
        a.apply_fill(fill(1, 1, 600_000, 10, 0.0));
        // no coin changes hands at entry; the position is worth 10 · 100 / 60000 BTC
        assert_eq!(a.cash, 1.0);
        assert!((a.position_value(600_000.0) - 1000.0 / 60_000.0).abs() < 1e-15);
        assert!((a.unrealized_pnl(610_000.0) - golden).abs() < 1e-15);
        check_identities(&a, 610_000.0);
        a.apply_fill(fill(2, -1, 610_000, 10, 0.0));
        assert!((a.realized_pnl - golden).abs() < 1e-15);
        assert!((a.equity(1.0) - (1.0 + golden)).abs() < 1e-15);
        assert!((a.round_trips[0].pnl - golden).abs() < 1e-15);
        // booked as if linear (one lot valued 100/60000 BTC at the entry, a tick moving it by
        // that over the price), the trade gains 10 · 10000 ticks · that: not the golden value
        let mut linear = Account::new(1.0, 100.0 / (600_000.0 * 600_000.0 * 0.1));
        linear.apply_fill(fill(1, 1, 600_000, 10, 0.0));
        linear.apply_fill(fill(2, -1, 610_000, 10, 0.0));
        assert!((linear.realized_pnl - golden).abs() > 1e-6);
    }

    #[test]
    fn inverse_average_entry_is_harmonic() {
        // 1 contract at 50,000 and 1 at 100,000: the average entry is 2/(1/50000 + 1/100000)
        let mut a = Account::with_contract(1.0, BTCUSD_PERP);
        a.apply_fill(fill(1, 1, 500_000, 1, 0.0));
        a.apply_fill(fill(2, 1, 1_000_000, 1, 0.0));
        assert!((a.avg_entry_ticks - 2.0 / (1.0 / 500_000.0 + 1.0 / 1_000_000.0)).abs() < 1e-6);
        // both out at 80,000: 100 · (1/50000 − 1/80000) + 100 · (1/100000 − 1/80000)
        a.apply_fill(fill(3, -1, 800_000, 2, 0.0));
        let want =
            100.0 * (1.0 / 50_000.0 - 1.0 / 80_000.0) + 100.0 * (1.0 / 100_000.0 - 1.0 / 80_000.0);
        assert!(
            (a.realized_pnl - want).abs() < 1e-15,
            "{} vs {want}",
            a.realized_pnl
        );
    }

    #[test]
    fn multiplied_contract_by_hand() {
        // ES: tick 0.25 point, lot 1 contract, 50 USD a point: long 2 at 5000, out at 5010
        let unit = 0.25 * 1.0 * 1.0 * 50.0;
        let mut a = Account::new(100_000.0, unit);
        a.apply_fill(fill(1, 1, 20_000, 2, 2.5));
        a.apply_fill(fill(2, -1, 20_040, 2, 2.5));
        assert!((a.realized_pnl - (2.0 * 10.0 * 50.0 - 5.0)).abs() < 1e-9);
        assert!((a.equity(20_040.0) - (100_000.0 + 995.0)).abs() < 1e-9);
    }

    /// Random fills on a contract; after each, the ledger identities and, flat at the end, the
    /// cash-flow identity computed without the ledger: total PnL = Σ cash flow of the fills −
    /// fees, where a fill of `q` lots on side `s` at `p` flows `−s·q·p·unit` quote (linear) or
    /// `s·q·K/(p·tick)` coin (inverse). Returns how far off the cash-flow identity is, relative
    /// to the traded notional.
    fn random_fills(contract: Contract, booked_as: Contract, seed: u64) -> f64 {
        let mut rng = crate::rng::Rng::new(seed);
        let mut a = Account::with_contract(1_000.0, booked_as);
        let mut flow = 0.0;
        let mut fees = 0.0;
        for t in 0..60 {
            let price = 400_000 + rng.below(400_000) as i64;
            let qty = 1 + rng.below(20) as i64;
            // the last fill closes whatever is open
            let (side, qty) = if t == 59 {
                (-a.position_lots.signum() as i8, a.position_lots.abs())
            } else {
                (if rng.below(2) == 0 { 1 } else { -1 }, qty)
            };
            if qty == 0 {
                continue;
            }
            let fee = 4e-4 * contract.notional(price as f64, qty as f64);
            assert!(fee >= 0.0);
            a.apply_fill(fill(t, side, price, qty, fee));
            fees += fee;
            flow += match contract {
                Contract::Linear { quote_per_tick_lot } => {
                    -(side as f64) * qty as f64 * price as f64 * quote_per_tick_lot
                }
                Contract::Inverse {
                    quote_per_lot,
                    tick,
                } => side as f64 * qty as f64 * quote_per_lot / (price as f64 * tick),
            };
            let mark = 400_000.0 + rng.below(400_000) as f64;
            // relative: the multiplied contract moves tens of millions
            let tol = 1e-12 * (1.0 + a.traded_notional);
            let lhs = a.realized_pnl + a.unrealized_pnl(mark);
            assert!((lhs - (a.equity(mark) - a.initial_cash)).abs() < tol);
            let carried = match a.contract {
                Contract::Linear { .. } => a.position_value(mark),
                Contract::Inverse { .. } => a.unrealized_pnl(mark),
            };
            assert!((a.equity(mark) - (a.cash + carried)).abs() < tol);
            assert!(a.fees_paid >= 0.0);
        }
        assert_eq!(a.position_lots, 0);
        let off = (a.equity(1.0) - a.initial_cash - (flow - fees)).abs();
        off / (1.0 + a.traded_notional)
    }

    #[test]
    fn random_fills_keep_the_identities_linear_multiplied_and_inverse() {
        let contracts = [
            Contract::Linear {
                quote_per_tick_lot: 0.1 * 0.001,
            },
            Contract::Linear {
                quote_per_tick_lot: 0.25 * 50.0,
            },
            BTCUSD_PERP,
        ];
        for contract in contracts {
            for seed in 0..20 {
                let err = random_fills(contract, contract, seed);
                assert!(
                    err < 1e-12,
                    "{contract:?} seed {seed}: cash flow off by {err}"
                );
            }
        }
    }

    #[test]
    fn the_cash_flow_identity_catches_inverse_pnl_computed_linearly() {
        // planted defect: an inverse contract booked as linear, with the lot valued at one price
        let linear_at_60k = Contract::Linear {
            quote_per_tick_lot: 100.0 / (600_000.0 * 600_000.0 * 0.1),
        };
        let caught = (0..20).any(|seed| random_fills(BTCUSD_PERP, linear_at_60k, seed) > 1e-6);
        assert!(
            caught,
            "booking the inverse contract linearly went unnoticed"
        );
    }
}
