//! Executing a transition graph: an action fires once every action ordered
//! before it completed, within the batch and per-node limits; pseudo
//! actions complete as they fire; an aborted graph fires nothing new and
//! ends when its in-flight actions are done (Pacemaker's te_graph_trigger).

use std::collections::BTreeMap;

use hasim_scheduler::GraphAction;

/// Where one action of the graph is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActState {
    Waiting,
    InFlight,
    Done,
    Failed,
}

/// A transition being executed.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: u64,
    pub actions: Vec<GraphAction>,
    pub states: Vec<ActState>,
    preds: Vec<Vec<usize>>,
    /// Why the transition was aborted, if it was.
    pub aborted: Option<String>,
    /// Actions in flight, in all and per node: kept as states change so
    /// that firing stays linear in the graph's size (a 1,000-remote-node
    /// cluster's first transition has thousands of actions).
    in_flight: usize,
    in_flight_per_node: BTreeMap<Option<String>, usize>,
}

impl Run {
    pub fn new(id: u64, actions: Vec<GraphAction>, edges: &[(usize, usize)]) -> Run {
        let mut preds = vec![Vec::new(); actions.len()];
        for &(before, after) in edges {
            if after < preds.len() && before < actions.len() {
                preds[after].push(before);
            }
        }
        let states = vec![ActState::Waiting; actions.len()];
        Run {
            id,
            actions,
            states,
            preds,
            aborted: None,
            in_flight: 0,
            in_flight_per_node: BTreeMap::new(),
        }
    }

    fn in_flight_on(&self, node: &Option<String>) -> usize {
        self.in_flight_per_node.get(node).copied().unwrap_or(0)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Count action `i` in (`+1`) or out of flight.
    fn count_flight(&mut self, i: usize, going: bool) {
        let n = self
            .in_flight_per_node
            .entry(self.actions[i].node.clone())
            .or_insert(0);
        if going {
            *n += 1;
            self.in_flight += 1;
        } else {
            *n = n.saturating_sub(1);
            self.in_flight = self.in_flight.saturating_sub(1);
        }
    }

    fn can_fire(&self, i: usize) -> bool {
        self.states[i] == ActState::Waiting
            && self.actions[i].runnable
            && self.preds[i]
                .iter()
                .all(|&p| self.states[p] == ActState::Done)
    }

    /// Fire what can fire: pseudo actions complete at once; the real ones
    /// (returned) go in flight. `batch_limit` 0 means no global limit.
    pub fn fire(&mut self, batch_limit: usize, node_limit: usize) -> Vec<usize> {
        let mut fired = Vec::new();
        if self.aborted.is_some() {
            return fired;
        }
        loop {
            let mut progress = false;
            for i in 0..self.actions.len() {
                if !self.can_fire(i) {
                    continue;
                }
                if self.actions[i].pseudo {
                    self.states[i] = ActState::Done;
                    progress = true;
                    continue;
                }
                let global_full = batch_limit > 0 && self.in_flight() >= batch_limit;
                let node_full = self.in_flight_on(&self.actions[i].node) >= node_limit;
                if !global_full && !node_full {
                    self.states[i] = ActState::InFlight;
                    self.count_flight(i, true);
                    fired.push(i);
                }
            }
            if !progress {
                return fired;
            }
        }
    }

    /// An in-flight action finished.
    pub fn complete(&mut self, i: usize, ok: bool) {
        if i < self.states.len() && self.states[i] == ActState::InFlight {
            self.states[i] = if ok { ActState::Done } else { ActState::Failed };
            self.count_flight(i, false);
        }
    }

    /// Nothing in flight and nothing more can fire.
    pub fn finished(&self) -> bool {
        self.in_flight() == 0
            && (self.aborted.is_some() || !(0..self.actions.len()).any(|i| self.can_fire(i)))
    }

    /// "start vip on n1"-style descriptions of the real actions.
    pub fn describe(&self) -> Vec<String> {
        self.actions
            .iter()
            .filter(|a| !a.pseudo)
            .map(|a| {
                let what = a.resource.as_deref().unwrap_or("-");
                let on = a.node.as_deref().unwrap_or("-");
                let blocked = if a.runnable { "" } else { " (blocked)" };
                format!("{} {what} on {on}{blocked}", a.task)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act(id: usize, task: &str, node: &str, pseudo: bool, runnable: bool) -> GraphAction {
        GraphAction {
            id,
            task: task.into(),
            resource: Some("r".into()),
            node: Some(node.into()),
            pseudo,
            runnable,
            reason: None,
            fence_delay: 0,
            router_node: None,
        }
    }

    #[test]
    fn fires_in_dependency_order_with_limits() {
        let actions = vec![
            act(0, "stop", "n1", false, true),
            act(1, "stopped", "n1", true, true),
            act(2, "start", "n2", false, true),
            act(3, "start", "n2", false, true),
            act(4, "start", "n3", false, false),
        ];
        let mut run = Run::new(1, actions, &[(0, 1), (1, 2), (1, 3)]);
        assert_eq!(run.fire(0, 4), vec![0]);
        assert!(!run.finished());
        run.complete(0, true);
        assert_eq!(run.fire(0, 1), vec![2], "per-node limit 1");
        run.complete(2, true);
        assert_eq!(run.fire(0, 1), vec![3]);
        run.complete(3, true);
        assert!(run.finished(), "the blocked action never fires");
        assert_eq!(run.describe().last().unwrap(), "start r on n3 (blocked)");
    }

    #[test]
    fn failure_blocks_successors_and_abort_stops_firing() {
        let actions = vec![
            act(0, "stop", "n1", false, true),
            act(1, "start", "n2", false, true),
            act(2, "start", "n3", false, true),
        ];
        let mut run = Run::new(2, actions, &[(0, 1)]);
        assert_eq!(run.fire(1, 4), vec![0], "batch limit 1");
        run.complete(0, false);
        run.aborted = Some("Event failed".into());
        assert!(run.fire(0, 4).is_empty());
        assert!(run.finished());
    }
}
