//! The trader's ledger: cash, position, average entry, realized and unrealized PnL, fees, and a
//! record of every fill and every round-trip trade.
//!
//! Money is in quote currency (f64); prices and sizes stay integer ticks and lots. With average
//! cost accounting the identities hold for every state (up to float rounding):
//! `equity = cash + position × mark` and `realized + unrealized = equity − initial_cash`, where
//! `realized` is net of fees.

use serde::Serialize;

/// One execution against the book.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Fill {
    pub ts_ns: i64,
    /// +1 bought, -1 sold.
    pub side: i8,
    pub price_ticks: i64,
    pub qty_lots: i64,
    /// Fee paid, quote currency (>= 0).
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
    /// Realized PnL of the trip net of its fees, quote currency.
    pub pnl: f64,
    pub fees: f64,
}

/// The ledger. `quote_per_tick_lot` is the quote value of one lot moving one tick
/// (tick size × lot size for a linear instrument).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    pub quote_per_tick_lot: f64,
    pub initial_cash: f64,
    pub cash: f64,
    pub position_lots: i64,
    /// Average entry price of the open position, ticks (0 when flat).
    pub avg_entry_ticks: f64,
    /// Realized PnL net of fees, quote currency.
    pub realized_pnl: f64,
    pub fees_paid: f64,
    /// Traded quote notional, summed over fills (for turnover).
    pub traded_notional: f64,
    pub fills: Vec<Fill>,
    pub round_trips: Vec<RoundTrip>,
    trip_entry_ts_ns: i64,
    trip_pnl: f64,
    trip_fees: f64,
    trip_max_qty: i64,
}

impl Account {
    pub fn new(initial_cash: f64, quote_per_tick_lot: f64) -> Self {
        Self {
            quote_per_tick_lot,
            initial_cash,
            cash: initial_cash,
            position_lots: 0,
            avg_entry_ticks: 0.0,
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
        self.realized_pnl = 0.0;
        self.fees_paid = 0.0;
        self.traded_notional = 0.0;
        self.fills.clear();
        self.round_trips.clear();
        self.trip_pnl = 0.0;
        self.trip_fees = 0.0;
        self.trip_max_qty = 0;
    }

    /// Equity at `mark_ticks` (the mid), quote currency.
    pub fn equity(&self, mark_ticks: f64) -> f64 {
        self.cash + self.position_lots as f64 * mark_ticks * self.quote_per_tick_lot
    }

    /// Unrealized PnL at `mark_ticks`, quote currency.
    pub fn unrealized_pnl(&self, mark_ticks: f64) -> f64 {
        self.position_lots as f64 * (mark_ticks - self.avg_entry_ticks) * self.quote_per_tick_lot
    }

    /// Books one fill. `side` +1 buys, -1 sells `qty_lots` (> 0) at `price_ticks`.
    pub fn apply_fill(&mut self, fill: Fill) {
        let qty = fill.qty_lots;
        if qty <= 0 {
            return;
        }
        let unit = self.quote_per_tick_lot;
        let signed = i64::from(fill.side) * qty;
        let notional = qty as f64 * fill.price_ticks as f64 * unit;
        self.cash -= signed as f64 * fill.price_ticks as f64 * unit + fill.fee;
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
            self.avg_entry_ticks = (self.avg_entry_ticks * held
                + fill.price_ticks as f64 * qty as f64)
                / (held + qty as f64);
            self.position_lots = pos + signed;
            self.trip_pnl -= fill.fee;
            self.trip_fees += fill.fee;
        } else {
            let closing = qty.min(pos.abs());
            let gain = closing as f64
                * (fill.price_ticks as f64 - self.avg_entry_ticks)
                * pos.signum() as f64
                * unit;
            self.realized_pnl += gain;
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
                } else {
                    // flipped: the remainder opens a new trip at this price
                    self.avg_entry_ticks = fill.price_ticks as f64;
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
}
