//! The event bus: every event of a run goes through here exactly once, to
//! the trace (written and hashed as it happens), the cluster view, the
//! checkers and the report's summaries.
//!
//! The network, the machines and the clients only emit events; none of them
//! owns the trace or the checkers. Nothing here keeps events: each consumer
//! keeps only the state it needs, so memory does not grow with simulated
//! time.

use crate::checkers::Checker;
use crate::summary::RunSummary;
use crate::trace::{Event, TraceSink};
use crate::view::ClusterView;
use crate::vrrp_analysis::VrrpAnalysis;
use std::time::Duration;

pub struct Bus {
    pub trace: TraceSink,
    pub view: ClusterView,
    vrrp: VrrpAnalysis,
    pub checkers: Vec<Box<dyn Checker>>,
    pub summary: RunSummary,
}

impl Bus {
    pub fn new(trace: TraceSink, view: ClusterView, checkers: Vec<Box<dyn Checker>>) -> Self {
        Self {
            trace,
            view,
            vrrp: VrrpAnalysis::default(),
            checkers,
            summary: RunSummary::default(),
        }
    }

    /// One event at simulated time `t`.
    pub fn emit(&mut self, t: Duration, mut event: Event) {
        self.vrrp.observe(t, &mut event, &self.view);
        self.view.observe(&event);
        self.trace.record(t, &event);
        for checker in &mut self.checkers {
            checker.observe(t, &event, &self.view);
        }
        self.summary.observe(t, &event, &self.view);
    }
}
