//! `crm_simulate -S` output: current status, transition summary, executed
//! actions and revised status.

use hasim_cib::Cib;

use crate::ws::*;
use crate::{schedule, Error};

/// Apply the transition to the working set so the revised status can be
/// printed (what crm_simulate's simulated execution does).
fn apply_transition(ws: &mut WorkingSet) {
    for r in 0..ws.rscs.len() {
        if ws.rscs[r].variant != Variant::Primitive {
            continue;
        }
        let stops: Vec<NodeId> = ws.rscs[r]
            .actions
            .iter()
            .filter(|&&a| {
                ws.actions[a].task == "stop"
                    && !ws.actions[a].has(af::OPTIONAL)
                    && ws.actions[a].has(af::RUNNABLE)
            })
            .filter_map(|&a| ws.actions[a].node)
            .collect();
        let start = ws.rscs[r].actions.iter().copied().find(|&a| {
            ws.actions[a].task == "start"
                && !ws.actions[a].has(af::OPTIONAL)
                && ws.actions[a].has(af::RUNNABLE)
        });
        let promote = ws.rscs[r].actions.iter().copied().find(|&a| {
            ws.actions[a].task == "promote"
                && !ws.actions[a].has(af::OPTIONAL)
                && ws.actions[a].has(af::RUNNABLE)
        });
        let demote = ws.rscs[r].actions.iter().any(|&a| {
            ws.actions[a].task == "demote"
                && !ws.actions[a].has(af::OPTIONAL)
                && ws.actions[a].has(af::RUNNABLE)
        });
        let rsc = &mut ws.rscs[r];
        if demote && rsc.role == Role::Promoted {
            rsc.role = Role::Unpromoted;
        }
        rsc.running_on.retain(|n| !stops.contains(n));
        if !stops.is_empty() {
            rsc.failed = false;
            if rsc.running_on.is_empty() {
                rsc.role = Role::Stopped;
            }
        }
        if let Some(s) = start {
            if let Some(n) = ws.actions[s].node {
                let rsc = &mut ws.rscs[r];
                if !rsc.running_on.contains(&n) {
                    rsc.running_on.push(n);
                }
                rsc.failed = false;
                rsc.role = if rsc.promotable {
                    Role::Unpromoted
                } else {
                    Role::Started
                };
            }
        }
        if promote.is_some() {
            ws.rscs[r].role = Role::Promoted;
        }
    }
    // Fenced nodes go offline and clean.
    for &a in &ws.fence_actions.clone() {
        let act = &ws.actions[a];
        if act.has(af::OPTIONAL) || act.task != "stonith" || act.fence_type.as_deref() == Some("on")
        {
            continue;
        }
        if let Some(n) = act.node {
            let node = &mut ws.nodes[n];
            node.unclean = false;
            node.online = false;
            for r in 0..ws.rscs.len() {
                ws.rscs[r].running_on.retain(|&x| x != n);
            }
        }
    }
    // Collective roles follow their members.
    for r in 0..ws.rscs.len() {
        if ws.rscs[r].variant != Variant::Primitive {
            let mut on = Vec::new();
            for p in ws.primitives_of(r) {
                for &n in &ws.rscs[p].running_on {
                    if !on.contains(&n) {
                        on.push(n);
                    }
                }
            }
            ws.rscs[r].running_on = on;
        }
    }
}

/// Mark the working-set actions behind the graph's `stuck` actions (an
/// ordering loop) as not runnable, so the revised status does not show
/// their effects: crm_simulate aborts the transition and those actions never
/// execute. Graph action `i` is the `i`-th non-optional working-set action
/// (see [`crate::schedule`]).
fn unrun_stuck(ws: &mut WorkingSet, stuck: &std::collections::BTreeSet<usize>) {
    if stuck.is_empty() {
        return;
    }
    let required = ws
        .actions
        .iter_mut()
        .filter(|a| !a.has(af::OPTIONAL))
        .enumerate();
    for (_, action) in required.filter(|(i, _)| stuck.contains(i)) {
        action.flags &= !af::RUNNABLE;
    }
}

/// What `LC_ALL=C crm_simulate -x FILE -S` prints for this CIB.
pub fn render(xml: &str) -> Result<String, Error> {
    simulate(xml).map(|s| s.output)
}

/// The output of a simulated run and whether the transition could finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Simulation {
    /// What crm_simulate prints on standard output.
    pub output: String,
    /// What it prints on standard error: the invalid-transition report when
    /// the transition could not complete, else empty.
    pub errors: String,
    /// False when an ordering loop left actions that can never run; then
    /// crm_simulate reports an invalid transition and exits with 1.
    pub completed: bool,
}

/// crm_simulate 2.1.5's report (on standard error) of a transition that an
/// ordering loop stopped.
pub const INVALID_TRANSITION: &str =
    "Transition failed: terminated\nAn invalid transition was produced\n";

/// Schedule `xml` and simulate the transition, as `crm_simulate -S` does.
pub fn simulate(xml: &str) -> Result<Simulation, Error> {
    let cib = Cib::from_xml(xml)?;
    let graph = schedule(&cib);
    let initial = crate::unpacked(&cib);
    let stuck = graph.stuck_actions();
    let mut out = String::new();
    out.push_str("Current cluster status:\n");
    for l in crate::status::render_status(&initial) {
        out.push_str(&l);
        out.push('\n');
    }
    out.push_str("\nTransition Summary:\n");
    for l in &graph.summary {
        out.push_str("  * ");
        out.push_str(l);
        out.push('\n');
    }
    out.push_str("\nExecuting Cluster Transition:\n");
    for a in &graph.actions {
        if a.pseudo || !a.runnable || stuck.contains(&a.id) {
            continue;
        }
        match (&a.resource, &a.node) {
            (Some(r), Some(n)) => out.push_str(&format!(
                "  * Resource action: {:<15} {} on {}\n",
                r, a.task, n
            )),
            (None, Some(n)) if a.task == "stonith" => out.push_str(&format!("  * Fencing {n}\n")),
            _ => {}
        }
    }
    let mut ws = graph.ws.clone();
    unrun_stuck(&mut ws, &stuck);
    apply_transition(&mut ws);
    // The revised status is what a fresh unpack of the new CIB shows:
    // allowed nodes (for clones' Stopped lists) come from unpacking only.
    for (r, init) in initial.rscs.iter().enumerate() {
        if r < ws.rscs.len() {
            ws.rscs[r].allowed = init.allowed.clone();
            ws.rscs[r].pending_task = None;
        }
    }
    out.push_str("\nRevised Cluster Status:\n");
    for l in crate::status::render_status(&ws) {
        out.push_str(&l);
        out.push('\n');
    }
    let errors = if stuck.is_empty() {
        String::new()
    } else {
        INVALID_TRANSITION.to_string()
    };
    Ok(Simulation {
        output: out,
        errors,
        completed: stuck.is_empty(),
    })
}
