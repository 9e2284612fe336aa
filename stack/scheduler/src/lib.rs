//! Pacemaker's scheduler as a pure function: CIB in, transition graph out.
//!
//! [`schedule`] reproduces the decisions of Pacemaker 2.1.5's scheduler
//! (node scores, stickiness, constraints, groups, clones, failures,
//! fencing) and returns a [`TransitionGraph`]. [`simulate::render`] prints
//! what `crm_simulate -S` prints. Agreement with the real scheduler on
//! Pacemaker's regression corpus is measured by the `hasim-conformance`
//! tool crate (it reads files, which the core never does).
//!
//! Modules form one-way layers (each uses only those above it):
//! `ws`, `rules`, `naming` (data and pure functions); `graph` (creating
//! and finding actions, fencing, bans); `node_choice`, `instance_order`;
//! `failcount`; `unpack`, `constraints`; `colocation`; `promotable`;
//! `assign`; `notify`, `actions`; `digest`, `summary`, `status`, `simulate`; and
//! this file's pipeline on top.

pub mod actions;
pub mod assign;
pub mod bundle;
pub mod colocation;
pub mod constraints;
pub mod digest;
pub mod failcount;
pub mod glib_order;
pub mod graph;
pub mod instance_order;
pub mod naming;
pub mod node_choice;
pub mod notify;
pub mod priority_delay;
pub mod promotable;
pub mod remote;
pub mod remote_node;
pub mod remote_status;
pub mod rules;
pub mod simulate;
pub mod status;
pub mod summary;
pub mod unpack;
pub mod ws;

use std::fmt;

use hasim_cib::Cib;

pub use hasim_cib;

/// Errors from the scheduler entry points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The input is not a well-formed CIB.
    Xml(hasim_cib::XmlError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Xml(e) => write!(f, "invalid CIB: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<hasim_cib::XmlError> for Error {
    fn from(e: hasim_cib::XmlError) -> Self {
        Error::Xml(e)
    }
}

/// One action of the transition graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphAction {
    /// Index into [`TransitionGraph::actions`].
    pub id: usize,
    /// start, stop, promote, demote, running, stopped, stonith, do_shutdown, ...
    pub task: String,
    pub resource: Option<String>,
    pub node: Option<String>,
    /// Pseudo actions are bookkeeping (group/clone milestones, implied stops).
    pub pseudo: bool,
    /// Whether the action can be executed (false = blocked).
    pub runnable: bool,
    /// Why the action exists or is blocked, as Pacemaker words it.
    pub reason: Option<String>,
    /// For `stonith`: the priority-fencing-delay (seconds) the controller
    /// asks the fencer to wait, 0 when none applies.
    pub fence_delay: u64,
    /// For an action on a Pacemaker Remote node: the cluster node whose
    /// controller relays it to the remote executor (the graph's
    /// `router_node`, the node hosting the node's connection).
    pub router_node: Option<String>,
}

/// The scheduler's result: required actions, their orderings and the
/// human-readable summary.
#[derive(Debug, Clone)]
pub struct TransitionGraph {
    pub actions: Vec<GraphAction>,
    /// (before, after) pairs of indexes into `actions`.
    pub edges: Vec<(usize, usize)>,
    /// Transition Summary lines, as crm_simulate prints them (without the
    /// leading "  * ").
    pub summary: Vec<String>,
    /// The final working set (for rendering the revised status).
    pub(crate) ws: ws::WorkingSet,
}

/// Run the scheduler's pipeline on an unpacked working set.
pub(crate) fn run_pipeline(cib: &Cib) -> ws::WorkingSet {
    let mut w = unpacked(cib);
    digest::clear_failcounts_for_param_changes(&mut w);
    assign::apply_shutdown_locks(&mut w);
    let mut locations = constraints::node_health_locations(&w);
    locations.extend(constraints::unpack(cib, &mut w));
    for loc in &locations {
        constraints::apply_location(&mut w, loc.rsc, loc);
    }
    for r in w.top.clone() {
        assign::apply_stickiness(&mut w, r);
    }
    for n in 0..w.nodes.len() {
        // Without any fail count on the node no threshold can be reached.
        let failures = w.nodes[n]
            .attrs
            .range::<str, _>((
                std::ops::Bound::Included("fail-count-"),
                std::ops::Bound::Unbounded,
            ))
            .next()
            .is_some_and(|(k, _)| k.starts_with("fail-count-"));
        for r in w.top.clone() {
            if failures {
                assign::check_failure_threshold(&mut w, r, n);
            }
            constraints::apply_exclusive_discovery(&mut w, r, n);
        }
    }
    for r in w.top.clone() {
        actions::internal_constraints(&mut w, r);
    }
    remote::internal_constraints(&mut w);
    promotable::remember_locations(&mut w, &locations);
    digest::handle_config_changes(&mut w);
    if !w.options.placement_strategy.eq_ignore_ascii_case("default") {
        assign::sort_resources_for_placement(&mut w);
    }
    remote::assign_connections(&mut w);
    for r in w.top.clone() {
        remote::before_assign(&mut w, r);
        assign::assign(&mut w, r, None);
        remote::after_assign(&mut w, r);
    }
    // Scheduling probes re-sorts clone instances by number (Pacemaker does
    // this whenever some node can be probed), which fixes the output order.
    if w.options.startup_probes && w.nodes.iter().any(|n| n.online && !n.unclean) {
        for r in 0..w.rscs.len() {
            if w.rscs[r].variant == ws::Variant::Clone {
                let mut children = w.rscs[r].children.clone();
                children.sort_by_key(|&c| {
                    w.rscs[c]
                        .id
                        .rsplit(':')
                        .next()
                        .and_then(|v| v.parse::<i64>().ok())
                        .unwrap_or(0)
                });
                w.rscs[r].children = children;
            }
        }
    }
    actions::schedule_probes(&mut w);
    for r in w.top.clone() {
        actions::create_actions(&mut w, r);
    }
    remote::order_connection_actions(&mut w);
    actions::schedule_fencing_and_shutdowns(&mut w);
    actions::apply_orderings(&mut w);
    w
}

/// The working set as unpacked, before any scheduling: what "Current
/// cluster status" shows. Rebuilt from the CIB when a renderer asks,
/// rather than cloned on every scheduler run (the controller and the
/// benches never look at it).
pub(crate) fn unpacked(cib: &Cib) -> ws::WorkingSet {
    let mut w = unpack::unpack(cib);
    if w.options.symmetric {
        for r in w.top.clone() {
            graph::add_location(&mut w, r, None, 0);
        }
    }
    w
}

/// Compute the transition for a CIB.
pub fn schedule(cib: &Cib) -> TransitionGraph {
    let mut w = run_pipeline(cib);
    let (nodes, items) = summary::items(&mut w);
    let summary = summary::summary_lines(&nodes, &items);
    let mut actions = Vec::new();
    let mut index = std::collections::BTreeMap::new();
    for (i, a) in w.actions.iter().enumerate() {
        if a.has(ws::af::OPTIONAL) {
            continue;
        }
        index.insert(i, actions.len());
        actions.push(GraphAction {
            id: actions.len(),
            task: a.task.clone(),
            resource: a.rsc.map(|r| w.rscs[r].id.clone()),
            node: a.node.map(|n| w.nodes[n].name.clone()),
            pseudo: a.has(ws::af::PSEUDO),
            runnable: a.has(ws::af::RUNNABLE),
            reason: a.reason.clone(),
            fence_delay: match (a.task.as_str(), a.node) {
                ("stonith", Some(n)) => priority_delay::fencing_delay(&w, n),
                _ => 0,
            },
            router_node: a
                .node
                .and_then(|n| remote::router_node(&w, n, &a.task))
                .map(|h| w.nodes[h].name.clone()),
        });
    }
    let mut edges = Vec::new();
    for (i, a) in w.actions.iter().enumerate() {
        let Some(&from) = index.get(&i) else { continue };
        for &(t, f) in &a.after {
            if f == ws::of::NONE {
                continue;
            }
            if let Some(&to) = index.get(&t) {
                edges.push((from, to));
            }
        }
    }
    edges.sort();
    edges.dedup();
    TransitionGraph {
        actions,
        edges,
        summary,
        ws: w,
    }
}

/// Where the scheduler placed one resource instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub resource: String,
    /// Current role and nodes.
    pub role: ws::Role,
    pub running_on: Vec<String>,
    /// Role and node after the transition.
    pub next_role: ws::Role,
    pub node: Option<String>,
}

impl TransitionGraph {
    /// Actions that can never run because they are on, or ordered after,
    /// an ordering loop (Kahn's algorithm leaves them over). Empty for a
    /// valid transition.
    pub fn stuck_actions(&self) -> std::collections::BTreeSet<usize> {
        let mut waiting = vec![0usize; self.actions.len()];
        let mut next: Vec<Vec<usize>> = vec![Vec::new(); self.actions.len()];
        for &(before, after) in &self.edges {
            waiting[after] += 1;
            next[before].push(after);
        }
        let mut ready: Vec<usize> = (0..self.actions.len())
            .filter(|&a| waiting[a] == 0)
            .collect();
        let mut done = vec![false; self.actions.len()];
        while let Some(a) = ready.pop() {
            done[a] = true;
            for &b in &next[a] {
                waiting[b] -= 1;
                if waiting[b] == 0 {
                    ready.push(b);
                }
            }
        }
        (0..self.actions.len()).filter(|&a| !done[a]).collect()
    }

    /// The placement decision for every primitive (including clone instances).
    pub fn placements(&self) -> Vec<Placement> {
        let w = &self.ws;
        w.rscs
            .iter()
            .filter(|r| r.variant == ws::Variant::Primitive)
            .map(|r| Placement {
                resource: r.id.clone(),
                role: r.role,
                running_on: r
                    .running_on
                    .iter()
                    .map(|&n| w.nodes[n].name.clone())
                    .collect(),
                next_role: r.next_role,
                node: r.assigned.map(|n| w.nodes[n].name.clone()),
            })
            .collect()
    }
}
